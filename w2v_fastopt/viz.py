"""A 2-D map of the most frequent words: UMAP (default), PCA or t-SNE, drawn as a PNG/SVG/PDF
(matplotlib) or a self-contained interactive HTML page (plotly).

From Python (a notebook)::

    from w2v_fastopt import viz
    fig = viz.map(model.wv)                      # matplotlib Figure: shown by the notebook
    fig = viz.map(model.wv, interactive=True)    # plotly Figure: hover, zoom
    viz.write_map(model.wv, "map.html")          # the page ``w2v-fastopt map`` writes

The layout works on unit-length vectors (cosine geometry, as ``most_similar``).  The libraries are
the ``[viz]`` extra (umap-learn, openTSNE, plotly, matplotlib); PCA needs none of them.  A fixed
``seed`` gives the same layout on the same machine and library versions (UMAP and t-SNE then run
single-threaded).
"""
import contextlib
import html
import json
import os
import re
import sys
import warnings

import numpy as np

METHODS = ("umap", "pca", "tsne")
NEIGHBOURS = 10  # nearest words highlighted by the HTML page's search box
VIZ_EXTRA = 'pip install "w2v-fastopt[viz]"'


def _require(module, package, what):
    """Import ``module`` or raise ImportError with one line saying what to install."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ImportError(f"{what} needs {package}, which is not installed: {VIZ_EXTRA}") from None


def top_words(wv, words):
    """The ``words`` most frequent words of ``wv`` (its first rows) and their unit-length vectors
    (float32[n, dim]); every word if it has fewer."""
    if words < 3:
        raise ValueError(f"--words {words}: a map needs at least 3 words")
    n = min(words, len(wv))
    if n < 3:
        raise ValueError(f"the vocabulary has {n} words; a map needs at least 3")
    vectors = np.asarray(wv.vectors[:n], dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return list(wv.index_to_key[:n]), (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def layout(unit, method="umap", seed=1, progress=False):
    """2-D positions (float64[n, 2]) of the rows of ``unit`` (float32[n, dim], unit length).

    umap: umap-learn, cosine metric, 15 neighbours, min_dist 0.1, ``seed`` as random_state.
    pca: the two leading principal components of the centred rows, signs fixed so that each
    component's largest loading is positive (the same picture on every machine).
    tsne: openTSNE, cosine metric, perplexity 30 (less for fewer than 91 words).
    ``progress``: the library's progress bar and log lines, on stderr.
    """
    if method not in METHODS:
        raise ValueError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    n = len(unit)
    if method == "pca":
        centred = unit.astype(np.float64) - unit.mean(axis=0)
        _, _, vt = np.linalg.svd(centred, full_matrices=False)
        axes = vt[:2] * np.sign(vt[:2][np.arange(2), np.abs(vt[:2]).argmax(axis=1)])[:, None]
        return centred @ axes.T
    with contextlib.redirect_stdout(sys.stderr), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # umap: "n_jobs overridden by random_state", numba notes
        if method == "umap":
            umap = _import_umap()
            reducer = umap.UMAP(n_components=2, metric="cosine", n_neighbors=min(15, n - 1),
                                min_dist=0.1, random_state=seed, verbose=progress,
                                tqdm_kwds={"disable": not progress, "file": sys.stderr})
            return reducer.fit_transform(unit).astype(np.float64)
        openTSNE = _require("openTSNE", "openTSNE", "--method tsne")
        tsne = openTSNE.TSNE(n_components=2, metric="cosine", perplexity=min(30.0, (n - 1) / 3),
                             random_state=seed, n_jobs=1, verbose=progress)
        return np.asarray(tsne.fit(unit.astype(np.float64)), dtype=np.float64)


def _import_umap():
    """umap-learn, imported without TensorFlow: its ``__init__`` imports TensorFlow (~10 s) only to
    offer ParametricUMAP, which the map does not use."""
    if "umap" in sys.modules or "tensorflow" in sys.modules:
        return _require("umap", "umap-learn", "--method umap")
    sys.modules["tensorflow"] = None  # makes ``import tensorflow`` raise ImportError
    try:
        return _require("umap", "umap-learn", "--method umap")
    finally:
        del sys.modules["tensorflow"]


def nearest(unit, k=NEIGHBOURS, block=1024):
    """For each row of ``unit`` (float32[n, dim], unit length), its ``k`` most similar other rows:
    (int64[n, k] indices, float32[n, k] cosines), best first."""
    n = len(unit)
    k = min(k, n - 1)
    index = np.empty((n, k), dtype=np.int64)
    cosine = np.empty((n, k), dtype=np.float32)
    for start in range(0, n, block):
        sims = unit[start:start + block] @ unit.T
        rows = np.arange(len(sims))
        sims[rows, start + rows] = -np.inf  # not oneself
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        order = np.argsort(-sims[rows[:, None], top], axis=1, kind="stable")
        index[start:start + block] = top[rows[:, None], order]
        cosine[start:start + block] = sims[rows[:, None], index[start:start + block]]
    return index, cosine


def map(wv, words=1000, method="umap", seed=1, interactive=False, labels=150, title=None,
        counts_known=True, progress=False):
    """The map of the ``words`` most frequent words of ``wv`` (KeyedVectors).

    Returns a matplotlib Figure (a scatter plot with up to ``labels`` non-overlapping labels, most
    frequent words first) or, with ``interactive``, a plotly Figure (every word on hover).
    ``counts_known``: show the words' counts on hover (False for word2vec files, whose counts
    gensim makes up).
    """
    names, unit, xy, counts, title = _laid_out(wv, words, method, seed, counts_known, title, progress)
    if interactive:
        return _plotly_figure(names, xy, counts, title)
    return _matplotlib_figure(names, xy, labels, title)


_METHOD_NAMES = {"umap": "UMAP", "pca": "PCA", "tsne": "t-SNE"}


def _laid_out(wv, words, method, seed, counts_known, title, progress):
    """The words, their unit vectors, positions, counts (None if unknown) and the map's title."""
    names, unit = top_words(wv, words)
    xy = layout(unit, method, seed, progress)
    title = title or f"the {len(names):,} most frequent words, {_METHOD_NAMES[method]} (seed {seed})"
    counts = [int(wv.get_vecattr(w, "count")) for w in names] if counts_known else None
    return names, unit, xy, counts, title


def write_map(wv, path, words=1000, method="umap", seed=1, labels=150, title=None,
              counts_known=True, progress=False, inputs=()):
    """Write the map to ``path``, atomically: ``.html`` is the interactive page (plotly's
    JavaScript inlined: it opens offline), ``.png``/``.svg``/``.pdf`` the drawn picture.
    ``inputs``: paths the map must not overwrite.  Returns the number of words drawn."""
    from .io import atomic_path

    path = os.fspath(path)
    kind = check_map_output(path, method, inputs)
    names, unit, xy, counts, title = _laid_out(wv, words, method, seed, counts_known, title, progress)
    with atomic_path(path) as tmp:
        if kind == "html":
            fig = _plotly_figure(names, xy, counts, title)
            index, cosine = nearest(unit)
            fig.write_html(tmp, include_plotlyjs=True, full_html=True,
                           post_script=_search_script(names, index, cosine))
        else:
            with warnings.catch_warnings():
                if not progress:  # --quiet: a word with a character the font lacks is drawn as a box, silently
                    warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
                fig = _matplotlib_figure(names, xy, labels, title)
                fig.savefig(tmp, format=kind, dpi=150)
            import matplotlib.pyplot as plt
            plt.close(fig)
    return len(names)


def check_map_output(path, method="umap", inputs=()):
    """Refuse, before any work, a map that cannot be written: a name not ending in .html, .png,
    .svg or .pdf, a path ``check_output`` refuses, a library of the [viz] extra that is missing.
    Returns the format ("html", "png", "svg" or "pdf")."""
    from .io import check_output

    kind = os.path.splitext(path)[1].lower().lstrip(".")
    if kind not in ("html", "png", "svg", "pdf"):
        raise ValueError(f"{path}: the map is written as .html (interactive), .png, .svg or .pdf: "
                         "end the name with one of these")
    if method not in METHODS:
        raise ValueError(f"--method {method!r}: choose one of {', '.join(METHODS)}")
    check_output(path, inputs=inputs)
    if kind == "html":
        _require("plotly", "plotly", "an .html map")
    else:
        _require("matplotlib", "matplotlib", f"a .{kind} map")
    if method == "umap":
        _import_umap()
    elif method == "tsne":
        _require("openTSNE", "openTSNE", "--method tsne")
    return kind


CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ufffe\uffff]|[\ud800-\udfff]")


def plain_label(word):
    """A word as a picture's label: plain text, never markup.  Control characters (which XML 1.0,
    hence SVG, cannot hold even escaped) and lone surrogates become U+FFFD; ``$`` stays a dollar
    sign (the label is drawn with ``parse_math=False``, not through matplotlib's mathtext)."""
    return CONTROL.sub("\ufffd", word)


def _matplotlib_figure(names, xy, labels, title):
    """Every word a dot; labels for the most frequent words whose text overlaps no earlier label."""
    matplotlib = _require("matplotlib", "matplotlib", "a drawn map")
    if "matplotlib.pyplot" not in sys.modules:
        matplotlib.use("Agg")  # no display needed; a notebook has chosen its backend already
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(12, 12))
    rank = np.arange(len(names))
    ax.scatter(xy[:, 0], xy[:, 1], s=8, c=np.log1p(rank), cmap="viridis_r", alpha=0.7, linewidths=0)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    renderer = fig.canvas.get_renderer()
    frame = ax.get_window_extent(renderer)
    placed = []
    for i, word in enumerate(names):
        if len(placed) >= labels:
            break
        text = ax.annotate(plain_label(word), xy[i], xytext=(3, 3), textcoords="offset points", fontsize=8,
                           parse_math=False)
        box = text.get_window_extent(renderer).expanded(1.05, 1.15)
        if (box.x0 < frame.x0 or box.x1 > frame.x1 or box.y0 < frame.y0 or box.y1 > frame.y1
                or any(box.overlaps(other) for other in placed)):
            text.remove()
        else:
            placed.append(box)
    return fig


def _plotly_figure(names, xy, counts, title):
    go = _require("plotly.graph_objects", "plotly", "an interactive map")
    rank = np.arange(1, len(names) + 1)
    hover = [f"{html.escape(w)}<br>rank {r:,}" + (f", count {c:,}" if counts is not None else "")
             for w, r, c in zip(names, rank, counts if counts is not None else rank)]
    words = go.Scatter(x=xy[:, 0].tolist(), y=xy[:, 1].tolist(), mode="markers", text=names,
                       hovertext=hover, hoverinfo="text", name="words",
                       marker={"size": 6, "color": np.log1p(rank).tolist(),
                               "colorscale": "Viridis", "reversescale": True, "opacity": 0.75})
    found = go.Scatter(x=[], y=[], mode="markers+text", text=[], textposition="top center",
                       hoverinfo="text", name="search", marker={"size": 11, "color": "crimson"})
    fig = go.Figure([words, found])
    fig.update_layout(title=title, template="plotly_white", showlegend=False, height=800,
                      hovermode="closest", xaxis={"visible": False}, yaxis={"visible": False})
    return fig


def _search_script(names, index, cosine):
    """The page's search box: a word and its nearest words (cosine in the full space) shown in
    the second trace; ``#word`` in the address searches on load."""
    data = json.dumps({"words": names, "shown": [html.escape(w) for w in names], "nn": index.tolist(),
                       "cos": np.round(cosine.astype(np.float64), 4).tolist()})
    return _SEARCH_JS.replace("__DATA__", script_safe(data))


def script_safe(data):
    """JSON text that can stand inside an HTML <script> element whatever the words hold: ``<``,
    ``>`` and ``&`` as \\u escapes (so neither ``</script>`` nor ``<!--`` with ``<script>``, which
    switch the HTML parser's script states, can occur), and U+2028/U+2029 (line ends to older
    JavaScript) too; JSON.parse and JavaScript read the same strings back."""
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                         ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        data = data.replace(char, escape)
    return data


_SEARCH_JS = r"""
var gd = document.getElementById('{plot_id}');
var D = __DATA__;
var at = {};
D.words.forEach(function (w, i) { at[w] = i; });
var bar = document.createElement('div');
bar.style.cssText = 'font: 14px sans-serif; margin: 8px;';
var box = document.createElement('input');
box.id = 'w2v-search'; box.placeholder = 'find a word'; box.setAttribute('list', 'w2v-words');
box.style.cssText = 'font-size: 14px; padding: 4px; width: 16em;';
var list = document.createElement('datalist');
list.id = 'w2v-words';
D.words.forEach(function (w) { var o = document.createElement('option'); o.value = w; list.appendChild(o); });
var said = document.createElement('span');
said.id = 'w2v-message'; said.style.cssText = 'margin-left: 1em;';
bar.appendChild(box); bar.appendChild(list); bar.appendChild(said);
gd.parentNode.insertBefore(bar, gd);
function show(word) {
  var i = at[word];
  if (i === undefined) {
    said.textContent = word ? '"' + word + '" is not on this map' : '';
    Plotly.restyle(gd, {x: [[]], y: [[]], text: [[]]}, [1]);
    return;
  }
  var ids = [i].concat(D.nn[i]);
  var x = ids.map(function (j) { return gd.data[0].x[j]; });
  var y = ids.map(function (j) { return gd.data[0].y[j]; });
  var text = ids.map(function (j) { return D.shown[j]; });  // plotly reads labels as HTML
  var colour = ids.map(function (j, k) { return k === 0 ? 'crimson' : 'darkorange'; });
  Plotly.restyle(gd, {x: [x], y: [y], text: [text], 'marker.color': [colour]}, [1]);
  said.textContent = word + ': ' + D.nn[i].map(function (j, k) {
    return D.words[j] + ' ' + D.cos[i][k].toFixed(2); }).join(', ');
}
box.addEventListener('change', function () { show(box.value.trim()); });
box.addEventListener('keydown', function (e) { if (e.key === 'Enter') show(box.value.trim()); });
if (location.hash.length > 1) { box.value = decodeURIComponent(location.hash.slice(1)); show(box.value); }
"""
