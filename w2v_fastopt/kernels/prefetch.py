"""Software prefetch from Numba: ask the cache for a row before the loop that reads it.

Numba has no prefetch of its own; ``prefetch(rows, r, i)`` emits LLVM's ``llvm.prefetch`` (a read,
high locality, data cache) for the address of rows[r, i], through Numba's documented ``@intrinsic``
extension API.  It moves no data the program can see and cannot fault (a prefetch of any address is
harmless to the CPU), so it changes only timing.  ``prefetch_row`` asks for every 64-byte line of a
float32 row.
"""
from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic


@intrinsic
def prefetch(typingctx, rows, r, i):
    """Prefetch the cache line holding rows[r, i] (rows: a 2-D array; no bounds check)."""
    def codegen(context, builder, signature, args):
        rows_type = signature.args[0]
        index = [context.cast(builder, value, kind, types.intp) for value, kind in zip(args[1:], signature.args[1:])]
        array = context.make_array(rows_type)(context, builder, args[0])
        pointer = cgutils.get_item_pointer2(
            context, builder, data=array.data, shape=cgutils.unpack_tuple(builder, array.shape),
            strides=cgutils.unpack_tuple(builder, array.strides), layout=rows_type.layout,
            inds=index, wraparound=False, boundscheck=False)
        byte = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte, i32, i32, i32]), "llvm.prefetch.p0i8")
        # (address, 0 = read, 3 = keep in all cache levels, 1 = data cache)
        builder.call(function, [builder.bitcast(pointer, byte), i32(0), i32(3), i32(1)])
        return context.get_dummy_value()
    return types.void(rows, r, i), codegen


@njit(inline="always", cache=True)
def prefetch_row(rows, r, dim):
    """Prefetch rows[r, :dim] of a float32 matrix: one request per 64-byte line (16 floats)."""
    for i in range(0, dim, 16):
        prefetch(rows, r, i)
