"""Transposed-convolution page: its controls (URL-backed) and its views, drawn as HTML grids
(:mod:`ui.grids`). State keys carry the ``tconv_`` prefix.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from apcore import tconv
from apcore.defaults import default_config
from apcore.models import build

from . import state
from .grids import cell_size, fmt, grid, group, legend, op, row, show

EDITOR_COLUMN, EDITOR_INDEX = 52, 72   # px: an 8-column grid fits half the page
PLAY_SECONDS = 1.0        # one step per second: time to point at the cells
MAX_PARTIALS = 9          # more partial grids than this: show the current one only
STRIDES, PADDINGS, OUTPUT_PADDINGS, DILATIONS = (1, 4), (0, 4), (0, 3), (1, 3)

PRESETS = {
    "slide-1": ("Slide: stride 1", [[0, 1], [2, 3]], [[4, 1], [2, 3]], 1),
    "slide-2": ("Slide: stride 2", [[0, 1], [2, 3]], [[1, 4], [2, 3]], 2),
    "random": ("Random", None, None, 2),
}

# Keys in st.session_state. The four sliders are bound to the URL: their keys are the parameters.
PRESET, SEED, VERSION = "tconv_preset", "tconv_seed", "tconv_version"
STRIDE, PADDING, OUTPUT_PADDING, DILATION = "stride", "padding", "outpad", "dilation"
STEP, PLAYING, TICK = "tconv_step", "tconv_playing", "tconv_tick"
TEXT = {"x": "tconv_x_text", "k": "tconv_k_text"}          # the grids as "0,1;2,3", mirrored in the URL
LIMITS = {"x": tconv.MAX_INPUT, "k": tconv.MAX_KERNEL}
LABELS = {"x": "Input", "k": "Kernel"}


PRESET_LINK = (PRESET, "preset", "slide-1", PRESETS)   # the preset in the URL: key, parameter, default, choices


# --- the grids as text (URL) and as editor rows ---------------------------------------------

def to_text(rows) -> str:
    return ";".join(",".join("" if c is None else str(c).strip() for c in row) for row in rows)


def from_text(text: str) -> list[list[str]]:
    return [row.split(",") for row in text.split(";")] if text.strip() else []


def random_grids(seed: int) -> tuple[list[list[int]], list[list[int]]]:
    """Small integers (easy to add up in one's head): a 2..4 square input, a 2..3 square kernel."""
    rng = np.random.default_rng(seed)
    n, k = rng.integers(2, 5), rng.integers(2, 4)
    return rng.integers(0, 5, (n, n)).tolist(), rng.integers(-1, 4, (k, k)).tolist()


def preset_grids(name: str, seed: int = 0):
    _, x, k, _ = PRESETS[name]
    return random_grids(seed) if x is None else (x, k)


# --- controls -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Settings:
    x_cells: list
    k_cells: list
    stride: int
    padding: int
    output_padding: int
    dilation: int

    @property
    def params(self) -> dict:
        return dict(stride=self.stride, padding=self.padding, output_padding=self.output_padding,
                    dilation=self.dilation)


def _load(x_rows, k_rows) -> None:
    """Put new grids into the editors (a new version makes fresh editors) and their size boxes."""
    for name, rows in (("x", x_rows), ("k", k_rows)):
        st.session_state[TEXT[name]] = to_text(rows)
        _set_sizes(name, rows)
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def _set_sizes(name: str, rows) -> None:
    limit = LIMITS[name]
    st.session_state[f"tconv_{name}_rows"] = min(max(len(rows), 1), limit[0])
    st.session_state[f"tconv_{name}_cols"] = min(max(len(rows[0]) if rows else 1, 1), limit[1])


def _on_preset() -> None:
    name = st.session_state[PRESET]
    _load(*preset_grids(name, st.session_state.get(SEED, 0)))
    st.session_state.update({STRIDE: PRESETS[name][3], PADDING: 0, OUTPUT_PADDING: 0, DILATION: 1, STEP: 10**6,
                             PLAYING: False})


def _on_new_random() -> None:
    st.session_state[SEED] = st.session_state.get(SEED, 0) + 1
    st.session_state[PRESET] = "random"
    _on_preset()


def _on_resize(name: str) -> None:
    rows = from_text(st.session_state[TEXT[name]])
    h, w = st.session_state[f"tconv_{name}_rows"], st.session_state[f"tconv_{name}_cols"]
    rows = [(list(r) + ["0"] * w)[:w] for r in rows[:h]] + [["0"] * w for _ in range(h - len(rows))]
    st.session_state[TEXT[name]] = to_text(rows)
    st.session_state[VERSION] = st.session_state.get(VERSION, 0) + 1


def _init_state() -> None:
    state.init(*PRESET_LINK)
    preset = st.session_state[PRESET]
    if preset == "random":
        state.init(SEED, "seed", 0, lambda v: v >= 0)
    x_rows, k_rows = preset_grids(preset, st.session_state.get(SEED, 0))
    state.init(TEXT["x"], "x", to_text(x_rows))
    state.init(TEXT["k"], "k", to_text(k_rows))
    if STRIDE not in st.session_state and STRIDE not in st.query_params:
        st.session_state[STRIDE] = PRESETS[preset][3]   # the preset's stride, unless the link gives one
    st.session_state.setdefault(VERSION, 0)
    for name in ("x", "k"):   # size boxes follow the grid (also after leaving and coming back)
        if f"tconv_{name}_rows" not in st.session_state:
            _set_sizes(name, from_text(st.session_state[TEXT[name]]))


def _grid_editor(name: str) -> list[list]:
    """Grid editor of text cells (anything can be typed; apcore says what is wrong with it)."""
    key = f"tconv_{name}_editor_{st.session_state[VERSION]}"
    base_key = f"tconv_{name}_base"
    if key not in st.session_state or base_key not in st.session_state:
        # A fresh editor starts from the text, which holds the latest edits.
        st.session_state[base_key] = from_text(st.session_state[TEXT[name]])
    base = pd.DataFrame(st.session_state[base_key], dtype=object)
    base.columns = [str(c) for c in base.columns]
    limit = LIMITS[name]
    label, rows, cols = st.columns([2, 1, 1], vertical_alignment="bottom")
    label.markdown(f"**{LABELS[name]}**", help="Type into the cells; set the size on the right.")
    rows.number_input("rows", 1, limit[0], key=f"tconv_{name}_rows", on_change=_on_resize, args=(name,))
    cols.number_input("columns", 1, limit[1], key=f"tconv_{name}_cols", on_change=_on_resize, args=(name,))
    edited = st.data_editor(
        base, key=key, num_rows="fixed", hide_index=False,
        width=EDITOR_INDEX + (EDITOR_COLUMN + 2) * len(base.columns),
        column_config={c: st.column_config.TextColumn(c, width=EDITOR_COLUMN) for c in base.columns})
    cells = edited.astype(object).where(edited.notna(), None).values.tolist()
    st.session_state[TEXT[name]] = to_text(cells)
    state.sync(TEXT[name], name)   # after the edit: the URL holds what the grid shows now
    return cells


def controls() -> Settings:
    """Preset and the four settings in one row, the two grid editors below; every value mirrored in the URL."""
    _init_state()
    preset, *sliders = st.columns([3, 2, 2, 2, 2], gap="medium")
    with preset:
        st.selectbox("Preset", list(PRESETS), format_func=lambda n: PRESETS[n][0], on_change=_on_preset,
                     **state.linked(*PRESET_LINK))
        if st.session_state[PRESET] == "random":
            st.button("New numbers", key="tconv_new_random", on_click=_on_new_random, icon=":material/casino:")
            state.sync(SEED, "seed")
    values = [
        sliders[0].slider("Stride", *STRIDES, **state.bound(STRIDE),
                          help="Step between the scaled kernels in the output."),
        sliders[1].slider("Padding", *PADDINGS, **state.bound(PADDING),
                          help="Rows and columns cropped from each border of the result."),
        sliders[2].slider("Output padding", *OUTPUT_PADDINGS, **state.bound(OUTPUT_PADDING),
                          help="Extra rows and columns at the bottom and right; "
                               "must be smaller than the stride or the dilation."),
        sliders[3].slider("Dilation", *DILATIONS, **state.bound(DILATION), help="Spacing between the kernel's taps."),
    ]
    left, right = st.columns([3, 2], gap="large")   # room for 8 input columns, 5 kernel columns
    with left:
        x_cells = _grid_editor("x")
    with right:
        k_cells = _grid_editor("k")
    return Settings(x_cells, k_cells, *values)


# --- views ------------------------------------------------------------------------------------

def _span(idx: np.ndarray) -> str:
    idx = [int(i) for i in idx]
    if len(idx) == 1:
        return str(idx[0])
    if all(b - a == 1 for a, b in zip(idx, idx[1:])):
        return f"{idx[0]}–{idx[-1]}"
    return ", ".join(map(str, idx))


def _crop_classes(shape: tuple[int, int], padding: int) -> dict:
    h, w = shape
    return {(r, c): "crop" for r in range(h) for c in range(w)
            if r < padding or c < padding or r >= h - padding or c >= w - padding}


def step_figure(e: tconv.Explanation, t: int) -> str:
    """The slides' layout at step ``t`` (1-based): Input and Kernel with the scaled kernel of this
    step; then the partial grids, + between them, = the running sum (cropped by padding: the Output)."""
    n, step = len(e.steps), e.steps[t - 1]
    full_shape = e.full.shape
    kern = {(r, c): "kern" for r in range(e.kernel.shape[0]) for c in range(e.kernel.shape[1])}
    ksize = cell_size(e.kernel.shape, 210)
    top = row(grid(e.x, "Input", {(step.i, step.j): "cur"}, size=cell_size(e.x.shape, 300), testid="tconv-input"),
              grid(e.kernel, "Kernel", kern, size=ksize),
              group(op("→"), grid(step.scaled, f"{fmt(step.value)} × Kernel", {rc: "contrib" for rc in kern},
                                  size=ksize, sub=f"scaled by input ({step.i}, {step.j})", testid="tconv-scaled")))
    shown = n if n <= MAX_PARTIALS else 1
    size = int(max(18, min(44, 560 / (shown * full_shape[1]), 300 / full_shape[0])))

    def partial(s: int) -> str:
        p = e.steps[s - 1]
        mask = np.zeros(full_shape, bool)
        mask[np.ix_(p.rows, p.cols)] = True
        if s > t:
            classes = {rc: "blank" for rc in np.ndindex(full_shape)}
        else:
            classes = {rc: ("contrib" if s == t else "") if mask[rc] else "zero" for rc in np.ndindex(full_shape)}
        return grid(p.placed(full_shape), f"{fmt(p.value)} × K", classes, sub=f"input ({p.i}, {p.j})", size=size,
                    frame=s == t, muted=s > t)

    if n <= MAX_PARTIALS:
        parts = [partial(1)]
        for s in range(2, n + 1):
            parts += [op("+"), partial(s)]
    else:
        parts = ([op("…"), op("+")] if t > 1 else []) + [partial(t)] + ([op("+"), op("…")] if t < n else [])
    running = e.running_full(t)
    cropped = e.padding > 0
    hit = {(int(r), int(c)) for r in step.rows for c in step.cols}
    classes = {**_crop_classes(full_shape, e.padding), **{rc: "contrib" for rc in hit}}
    big = int(max(20, min(50, 600 / full_shape[1], 320 / full_shape[0])))
    total = grid(running, "Running sum" if cropped else ("Output" if t == n else "Output so far"), classes,
                 sub=f"after step {t} of {n}", size=big, testid="tconv-running")
    result = [op("="), total]
    if cropped:
        out = tconv.crop(running, e.padding)
        result += [op("→"), grid(out, "Output", size=big, sub=f"border of {e.padding} cropped",
                                 testid="tconv-output")]
    return top + row(*parts, group(*result))


def step_caption(e: tconv.Explanation, t: int) -> str:
    s = e.steps[t - 1]
    return (f"**Step {t} of {len(e.steps)}**: input cell ({s.i}, {s.j}) holds **{fmt(s.value)}**, so "
            f"{fmt(s.value)} × kernel is added to the output at rows {_span(s.rows)}, columns {_span(s.cols)} "
            f"(its corner lands at ({s.i}·stride, {s.j}·stride) = ({s.rows[0]}, {s.cols[0]})).")


STEP_LEGEND = legend(("cur", "current input cell"), ("kern", "kernel"), ("contrib", "current contribution"),
                     ("crop", "cropped by padding"))


def _toggle_play(n: int) -> None:
    playing = not st.session_state.get(PLAYING, False)
    if playing and st.session_state.get(STEP, n) >= n:
        st.session_state[STEP] = 1
    st.session_state[PLAYING] = playing


def step_player(e: tconv.Explanation) -> None:
    """Play button and step slider; while playing, the fragment reruns itself every PLAY_SECONDS
    and advances one step (only its own reruns advance: a full rerun just draws)."""
    n = len(e.steps)
    st.session_state[STEP] = min(max(int(st.session_state.get(STEP, n)), 1), n)
    playing = bool(st.session_state.get(PLAYING)) and n > 1
    st.session_state[PLAYING] = playing
    st.session_state[TICK] = False

    @st.fragment(run_every=PLAY_SECONDS if playing else None)
    def player() -> None:
        if playing and st.session_state.get(PLAYING) and st.session_state.get(TICK):
            st.session_state[STEP] = min(st.session_state[STEP] + 1, n)
            if st.session_state[STEP] == n:
                st.session_state[PLAYING] = False
        st.session_state[TICK] = True
        if st.session_state[PLAYING] != playing:
            st.rerun(scope="app")               # start or stop the ticking (run_every is set per full run)
        left, right = st.columns([1, 6], vertical_alignment="bottom")
        left.button("Pause" if playing else "Play", key="tconv_play", on_click=_toggle_play, args=(n,),
                    icon=":material/pause:" if playing else ":material/play_arrow:", type="primary",
                    disabled=n == 1, width="stretch")
        if n > 1:
            right.slider("Step", 1, n, key=STEP, persist_state="page")
        t = st.session_state[STEP]
        st.markdown(step_caption(e, t))
        show(step_figure(e, t) + STEP_LEGEND)

    player()


def _shade(counts: np.ndarray, top: int | None = None) -> np.ndarray:
    top = top or max(int(counts.max()), 1)
    return counts / top


def overlap_grid(counts: np.ndarray, caption: str, sub: str = "", room: int = 360, top: int | None = None,
                 testid: str | None = None) -> str:
    return grid(counts, caption, shade=_shade(counts, top), sub=sub, size=cell_size(counts.shape, room, 14),
                testid=testid)


def overlap_view(e: tconv.Explanation) -> None:
    st.markdown("How many scaled kernels add into each output cell. Uneven counts make the "
                "**checkerboard artefacts** of decoders (Odena et al. 2016): a cell fed twice as often "
                "comes out brighter.")
    show(row(overlap_grid(e.overlap, "This setting", f"kernel {_shape(e.kernel.shape)}, stride {e.stride}",
                          testid="tconv-overlap")))
    st.markdown("**Kernel 3 vs kernel 4, both stride 2** (a 5 × 5 input doubled to 10 × 10): "
                "3 is not a multiple of 2, so the overlap alternates; 4 is, so every inner cell gets the same count.")
    k3 = tconv.overlap_counts((5, 5), (3, 3), stride=2, padding=1, output_padding=1)
    k4 = tconv.overlap_counts((5, 5), (4, 4), stride=2, padding=1)
    show(row(overlap_grid(k3, "Kernel 3, stride 2", "padding 1, output padding 1", 320, 4),
             overlap_grid(k4, "Kernel 4, stride 2", "padding 1", 320, 4)))


def _shape(shape) -> str:
    return " × ".join(map(str, shape))


def equivalent_view(e: tconv.Explanation) -> None:
    eq = e.equivalent
    names = {0: "", 1: "ins", 2: "pad"}
    classes = {(r, c): names[int(k)] for (r, c), k in np.ndenumerate(eq.kind)}
    bh, bw = eq.border
    st.markdown(
        f"The same output from an **ordinary convolution** (stride 1): insert stride − 1 = **{e.stride - 1}** "
        f"zero(s) between neighbouring inputs, pad dilation·(kernel − 1) − padding = **{bh}**"
        + (f" / **{bw}**" if bw != bh else "") + " zero(s) on every side"
        + (f" (plus output padding **{e.output_padding}** at the bottom and right)" if e.output_padding else "")
        + ", then slide the kernel **flipped by 180°** over it."
        + (" A negative border crops that many rows and columns instead." if min(bh, bw) < 0 else ""))
    show(row(grid(eq.grid, "Zero-inserted, padded input", classes, size=cell_size(eq.grid.shape, 360)),
             op("⊛"), grid(eq.flipped, "Flipped kernel",
                           {(r, c): "kern" for r in range(eq.flipped.shape[0]) for c in range(eq.flipped.shape[1])},
                           sub=f"dilation {e.dilation}" if e.dilation > 1 else ""),
             op("="), grid(eq.output, "Output", size=cell_size(eq.output.shape, 260), testid="tconv-equivalent"))
         + legend(("plain", "input value"), ("ins", "inserted zero"), ("pad", "border padding"),
                  ("kern", "flipped kernel")))
    same = np.allclose(eq.output, e.output)
    st.caption("Same numbers as the step-by-step result." if same else "Differs from the step-by-step result!")


def formula(e: tconv.Explanation) -> None:
    """PyTorch's output-size formula with the current numbers, per axis (one line when both agree)."""
    axes = [("h", e.x.shape[0], e.kernel.shape[0], e.output.shape[0]),
            ("w", e.x.shape[1], e.kernel.shape[1], e.output.shape[1])]
    if axes[0][1:] == axes[1][1:]:
        axes = [("", *axes[0][1:])]
    for name, n, k, out in axes:
        sub = f"_{name}" if name else ""
        st.latex(rf"\text{{out}}{sub} = ({n} - 1)\cdot {e.stride} - 2\cdot {e.padding} + {e.dilation}\cdot({k} - 1)"
                 rf" + {e.output_padding} + 1 = \mathbf{{{out}}}")


def torch_check(e: tconv.Explanation) -> None:
    if e.max_difference < 1e-9:
        st.success(f"Matches `torch.nn.ConvTranspose2d` (same {_shape(e.output.shape)} output, "
                   f"largest difference {e.max_difference:.1g}).",
                   icon=":material/check_circle:")
    else:
        st.error(f"Differs from `torch.nn.ConvTranspose2d` by up to {e.max_difference:.3g}.", icon=":material/error:")


@st.cache_data(show_spinner=False)
def model_layers() -> list[dict]:
    """ConvTranspose2d layers of the conv AE and conv VAE decoders (untrained: shapes only)."""
    out = []
    for family, label in (("ae-conv", "Conv AE"), ("vae-conv", "Conv VAE")):
        for r in tconv.decoder_transposed_layers(build(default_config(family, latent_dim=16))):
            out.append({"model": label, **r})
    return out


def models_view() -> None:
    layers = model_layers()
    st.markdown("The decoders of the convolutional autoencoder and VAE upsample 7 × 7 → 14 × 14 → 28 × 28 "
                "with these layers (the latent size does not change them):")
    table = pd.DataFrame([{
        "model": r["model"], "layer": r["layer"],
        "channels": f"{r['in_channels']} → {r['out_channels']}", "kernel": r["kernel"], "stride": r["stride"],
        "padding": r["padding"], "output padding": r["output_padding"], "dilation": r["dilation"],
        "input (C, H, W)": _shape(r["input_shape"]), "output (C, H, W)": _shape(r["output_shape"]),
    } for r in layers])
    st.dataframe(table, hide_index=True)
    seen, figs = set(), []
    for r in layers:
        key = (r["input_shape"][1:], r["kernel"], r["stride"], r["padding"], r["output_padding"], r["dilation"])
        if key in seen:
            continue
        seen.add(key)
        counts = tconv.overlap_counts(r["input_shape"][1:], (r["kernel"],) * 2, r["stride"], r["padding"],
                                      r["output_padding"], r["dilation"])
        figs.append(overlap_grid(counts, f"{r['layer']}: {_shape(r['input_shape'][1:])} → {_shape(counts.shape)}",
                                 f"kernel {r['kernel']}, stride {r['stride']}, padding {r['padding']} (per channel)",
                                 400, 4))
    show(row(*figs))
    st.caption("Kernel 4 with stride 2: every inner output pixel receives exactly 4 contributions (2 per axis), "
               "so the decoders avoid the checkerboard; only the outermost ring gets fewer.")
