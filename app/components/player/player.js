// Synchronized player: one frame, its error heatmap and the score plot's cursor always show the same frame.
//
// Streamlit sends the arguments (plot, per-frame values, display style, seek requests) on every rerun;
// the frames themselves come once per analysis from a media file next to this page. Playback, stepping
// and plot seeking run here, without a Streamlit rerun, so the frame on screen is the only clock.
"use strict";

const el = (id) => document.getElementById(id);
const ui = {
  player: el("player"), stage: el("stage"), view: el("view"), plot: el("plot"), cursor: el("cursor"),
  cursorLabel: el("cursor-label"), scrub: el("scrub"), speed: el("speed"), play: el("play"),
  frame: el("readout-frame"), time: el("readout-time"), status: el("status"), score: el("value-score"),
  regularity: el("value-regularity"), boxes: el("value-boxes"), truth: el("value-truth"),
  truthRow: el("row-truth"), colorbar: el("colorbar"), legendTitle: el("legend-title"),
  latent: el("latent"), latentCaption: el("latent-caption"), latentMarker: el("latent-marker"),
  latentToggle: el("latent-toggle"),
};
const state = {
  args: null, media: null, mediaUrl: null, loading: null, frame: 0, playing: false,
  lastTick: null, carry: 0, seekId: null, pendingSeek: null, dragging: false, latentOn: true,
};
const heatCanvas = document.createElement("canvas");
const SIDE_GAP = 10;
const CAPTION = 18;

// --- Streamlit component protocol (the same messages streamlit-component-lib sends) ---
function send(type, extra) {
  window.parent.postMessage(Object.assign({ isStreamlitMessage: true, type }, extra), "*");
}
function reportHeight() {
  send("streamlit:setFrameHeight", { height: Math.ceil(ui.player.getBoundingClientRect().height) + 4 });
}
window.addEventListener("message", (event) => {
  if (event.source !== window.parent) return; // only the app's own page may drive the player, not a page framing it
  if (event.data && event.data.type === "streamlit:render") onRender(event.data.args, event.data.theme);
});

// --- media: decoded once per analysis ---
function loadImage(src) {
  const img = new Image();
  img.src = src;
  return img.decode().then(() => img);
}
function levelsOf(img) {
  // The heat PNGs are grayscale: the red channel is the heat level 0..255.
  const c = document.createElement("canvas");
  c.width = img.width;
  c.height = img.height;
  const ctx = c.getContext("2d", { willReadFrequently: true });
  ctx.drawImage(img, 0, 0);
  const rgba = ctx.getImageData(0, 0, c.width, c.height).data;
  const out = new Uint8Array(c.width * c.height);
  for (let i = 0; i < out.length; i++) out[i] = rgba[4 * i];
  return out;
}
const MEDIA_URL = /^media\/[0-9a-f-]+\.json$/; // the only files the app publishes for the player
const MEDIA_GONE = "This clip's frames are no longer on the server; open the clip again.";
const LOADING = "Loading frames…";
async function loadMedia(url) {
  if (!MEDIA_URL.test(url)) throw new Error(`refusing media URL ${url}`);
  const response = await fetch(url);
  if (!response.ok) throw new Error(`media ${url}: HTTP ${response.status}`); // evicted, or a restarted server
  const doc = await response.json(); // a cut-off or garbled file rejects here
  const [video, inputs, recons] = await Promise.all(
    [doc.video, doc.input, doc.recon].map((list) => Promise.all(list.map(loadImage))),
  );
  const heat = {};
  const heatMax = {};
  const heatPeak = {};
  for (const [kind, list] of Object.entries(doc.heat)) {
    heat[kind] = (await Promise.all(list.map(loadImage))).map(levelsOf);
    heatMax[kind] = heat[kind].map((levels) => levels.reduce((a, b) => Math.max(a, b), 0));
    const totals = heat[kind].map((levels) => levels.reduce((a, b) => a + b, 0));
    heatPeak[kind] = totals.indexOf(Math.max(...totals)); // the frame with the most heat overall
  }
  return { ...doc, video, inputs, recons, heat, heatMax, heatPeak };
}

// --- drawing ---
function colourize(levels, size, lut, opacity, opaque = false) {
  heatCanvas.width = size;
  heatCanvas.height = size;
  const ctx = heatCanvas.getContext("2d");
  const image = ctx.createImageData(size, size);
  const px = image.data;
  for (let i = 0; i < levels.length; i++) {
    const l = 4 * levels[i];
    px[4 * i] = lut[l];
    px[4 * i + 1] = lut[l + 1];
    px[4 * i + 2] = lut[l + 2];
    px[4 * i + 3] = opaque ? 255 : Math.round(opacity * lut[l + 3]);
  }
  ctx.putImageData(image, 0, 0);
  return heatCanvas;
}
function sizeCanvas(width, height) {
  const ratio = window.devicePixelRatio || 1;
  ui.view.width = Math.round(width * ratio);
  ui.view.height = Math.round(height * ratio);
  ui.view.style.width = `${width}px`;
  ui.view.style.height = `${height}px`;
  const ctx = ui.view.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.imageSmoothingEnabled = true;
  ctx.imageSmoothingQuality = "high";
  return ctx;
}
function strokeBoxes(ctx, boxes, x, y, w, h) {
  ctx.strokeStyle = "#ff4040";
  ctx.lineWidth = 2;
  for (const [x0, y0, x1, y1] of boxes) ctx.strokeRect(x + x0 * w, y + y0 * h, (x1 - x0) * w, (y1 - y0) * h);
}
function drawOverlay(f) {
  const { media, args } = state;
  const [vw, vh] = media.size;
  const scale = Math.min(ui.stage.clientWidth / vw, ui.stage.clientHeight / vh);
  const w = Math.floor(vw * scale);
  const h = Math.floor(vh * scale);
  const ctx = sizeCanvas(w, h);
  ctx.drawImage(media.video[f], 0, 0, w, h);
  ctx.drawImage(colourize(media.heat[args.kind][f], media.map_size, args.lut, args.opacity), 0, 0, w, h);
  if (args.boxes) strokeBoxes(ctx, media.boxes[f], 0, 0, w, h);
}
function drawSideBySide(f) {
  const { media, args } = state;
  const size = Math.floor(Math.min((ui.stage.clientWidth - 2 * SIDE_GAP) / 3, ui.stage.clientHeight - CAPTION));
  const ctx = sizeCanvas(3 * size + 2 * SIDE_GAP, size + CAPTION);
  const heat = colourize(media.heat[args.kind][f], media.map_size, args.lut, 1, true);
  const panels = [["model input", media.inputs[f]], ["reconstruction", media.recons[f]], [`error (${args.kind})`, heat]];
  ctx.font = "13px sans-serif";
  ctx.textAlign = "center";
  panels.forEach(([caption, image], i) => {
    const x = i * (size + SIDE_GAP);
    ctx.fillStyle = "#000";
    ctx.fillRect(x, CAPTION, size, size);
    ctx.drawImage(image, x, CAPTION, size, size);
    ctx.strokeStyle = "rgba(250,250,250,0.25)";
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, CAPTION + 0.5, size - 1, size - 1);
    ctx.fillStyle = "rgba(250,250,250,0.75)";
    ctx.fillText(caption, x + size / 2, 13);
    if (args.boxes && i !== 1) strokeBoxes(ctx, media.boxes[f], x, CAPTION, size, size);
  });
}
function placeCursor(f) {
  const layout = ui.plot._fullLayout;
  if (!layout || !layout.xaxis) return;
  const xa = layout.xaxis;
  const ya = layout.yaxis;
  ui.cursor.style.display = "block";
  ui.cursor.style.left = `${xa._offset + xa.l2p(f)}px`;
  ui.cursor.style.top = `${ya._offset}px`;
  ui.cursor.style.height = `${ya._length}px`;
  ui.cursorLabel.textContent = `${f}`;
  ui.plot.dataset.cursorFrame = String(f);
}

// --- the latent view: every frame's bottleneck state in 2-D; a ring marks the frame on screen ---
const LATENT_COLOURS = [[0, "#4cc9f0"], [0.5, "#f0c850"], [1, "#ff4b4b"]]; // c(t) 0, 1, 2+: the score plot's colours
const LATENT_PICK_PX = 20; // a click seeks to the nearest point within this distance
function latentShown() {
  return state.latentOn && !!(state.args && state.args.latent);
}
function latentPixel(f) {
  // Where frame f's point sits, in pixels from the latent plot's top left; null before the plot is drawn.
  const layout = ui.latent._fullLayout;
  const path = state.args && state.args.latent;
  if (!layout || !layout.xaxis || !path || !path.points[f]) return null;
  const [x, y] = path.points[f];
  return [layout.xaxis._offset + layout.xaxis.l2p(x), layout.yaxis._offset + layout.yaxis.l2p(y)];
}
window.latentPixel = latentPixel; // for tests: where to click to reach frame f
function placeLatentMarker(f) {
  const at = latentShown() ? latentPixel(f) : null;
  ui.latentMarker.style.display = at ? "block" : "none";
  if (!at) return;
  ui.latentMarker.style.left = `${at[0]}px`;
  ui.latentMarker.style.top = `${ui.latent.offsetTop + at[1]}px`;
  ui.latent.dataset.currentFrame = String(f);
  ui.latent.dataset.currentX = at[0].toFixed(1);
  ui.latent.dataset.currentY = at[1].toFixed(1);
}
async function drawLatent(args, font) {
  const path = args.latent;
  ui.player.dataset.latentAvailable = path ? "1" : "0";
  ui.player.dataset.latent = latentShown() ? "1" : "0";
  if (!path) return;
  ui.latentCaption.textContent = `Latent trajectory · ${path.source}`;
  ui.latentCaption.title = "The middle ConvLSTM's state of every frame, projected to 2-D, coloured by c(t). "
    + "Normal motion moves smoothly; an anomaly jumps. Click a point to go to its frame.";
  const xs = path.points.map((p) => p[0]);
  const ys = path.points.map((p) => p[1]);
  const c = args.score.map((v) => (v === null ? 0 : v));
  const axis = { fixedrange: true, zeroline: false, gridcolor: "rgba(250,250,250,0.08)", tickfont: { size: 9 } };
  const data = [
    { x: xs, y: ys, mode: "lines", line: { color: "rgba(250,250,250,0.3)", width: 1 }, hoverinfo: "skip" },
    {
      x: xs, y: ys, mode: "markers", customdata: c.map((v, f) => [f, v]),
      marker: { size: 5, color: c, cmin: 0, cmax: 2, colorscale: LATENT_COLOURS },
      hovertemplate: "frame %{customdata[0]}<br>c(t) = %{customdata[1]:.2f}<extra></extra>",
    },
  ];
  const layout = {
    height: 240, margin: { l: 34, r: 8, t: 40, b: 30 }, paper_bgcolor: "rgba(0,0,0,0)",
    plot_bgcolor: "rgba(0,0,0,0)", font: { ...font, size: 10 }, showlegend: false, dragmode: false,
    hovermode: "closest",
    xaxis: { ...axis, title: { text: "PC1", standoff: 2 } }, yaxis: { ...axis, title: { text: "PC2", standoff: 2 } },
  };
  await Plotly.react(ui.latent, data, layout, { displayModeBar: false, responsive: true, doubleClick: false });
  ui.latent.dataset.pointCount = String(xs.length);
}
function fmt(value, digits) {
  return value === null || value === undefined || Number.isNaN(value) ? "–" : Number(value).toFixed(digits);
}
function draw() {
  const { media, args } = state;
  if (!media || !args) return;
  const f = state.frame;
  if (args.mode === "side") drawSideBySide(f);
  else drawOverlay(f);
  placeCursor(f);
  placeLatentMarker(f);
  const anomalous = args.flags[f] === 1;
  ui.frame.textContent = `Frame ${f}`;
  ui.time.textContent = `${(f / media.fps).toFixed(2)} s · ${media.frames} frames`;
  ui.status.textContent = anomalous ? "anomalous segment" : "normal";
  ui.status.classList.toggle("anomalous", anomalous);
  ui.score.textContent = fmt(args.score[f], 3);
  ui.regularity.textContent = fmt(args.regularity[f], 3);
  ui.boxes.textContent = String(media.boxes[f].length);
  ui.truthRow.style.display = args.truth ? "" : "none";
  if (args.truth) ui.truth.textContent = args.truth[f] === 1 ? "anomalous" : "normal";
  ui.scrub.value = String(f);
  ui.player.dataset.heatLevel = String(media.heatMax[args.kind][f]);
  ui.player.dataset.heatPeak = String(media.heatPeak[args.kind]);
  ui.player.dataset.frame = String(f);
}

// --- transport ---
function show(f) {
  if (!state.media) return;
  state.frame = Math.max(0, Math.min(state.media.frames - 1, Math.round(f)));
  draw();
}
function setPlaying(on) {
  state.playing = on && !!state.media;
  state.lastTick = null;
  state.carry = 0;
  ui.player.dataset.playing = state.playing ? "1" : "0";
  ui.play.setAttribute("aria-label", state.playing ? "Pause" : "Play");
  if (state.playing) requestAnimationFrame(tick);
}
function tick(now) {
  if (!state.playing) return;
  if (state.lastTick !== null) {
    state.carry += ((now - state.lastTick) / 1000) * state.media.fps * Number(ui.speed.value);
    const steps = Math.floor(state.carry);
    if (steps > 0) {
      state.carry -= steps;
      show(state.frame + steps);
      if (state.frame >= state.media.frames - 1) return setPlaying(false);
    }
  }
  state.lastTick = now;
  requestAnimationFrame(tick);
}
function togglePlay() {
  if (!state.playing && state.media && state.frame >= state.media.frames - 1) show(0);
  setPlaying(!state.playing);
}
ui.play.addEventListener("click", togglePlay);
el("prev").addEventListener("click", () => { setPlaying(false); show(state.frame - 1); });
el("next").addEventListener("click", () => { setPlaying(false); show(state.frame + 1); });
ui.scrub.addEventListener("input", () => show(Number(ui.scrub.value)));
document.addEventListener("keydown", (event) => {
  if (event.target === ui.speed) return;
  const keys = { " ": togglePlay, ArrowLeft: () => show(state.frame - 1), ArrowRight: () => show(state.frame + 1) };
  if (keys[event.key]) {
    event.preventDefault();
    keys[event.key]();
  }
});

// --- the plot seeks: click or drag anywhere over the plotting area ---
function frameAtPointer(event) {
  const layout = ui.plot._fullLayout;
  if (!layout || !layout.xaxis || !state.media) return null;
  const xa = layout.xaxis;
  const ya = layout.yaxis;
  const box = ui.plot.getBoundingClientRect();
  const x = event.clientX - box.left - xa._offset;
  const y = event.clientY - box.top - ya._offset;
  if (x < 0 || x > xa._length || y < 0 || y > ya._length) return null;
  return Math.round(xa.p2l(x));
}
ui.plot.addEventListener("pointerdown", (event) => {
  const f = frameAtPointer(event);
  if (f === null) return;
  state.dragging = true;
  ui.plot.setPointerCapture(event.pointerId);
  show(f);
}, { capture: true });
ui.plot.addEventListener("pointermove", (event) => {
  if (!state.dragging) return;
  const f = frameAtPointer(event);
  if (f !== null) show(f);
}, { capture: true });
ui.plot.addEventListener("pointerup", () => { state.dragging = false; }, { capture: true });

// --- the latent view seeks too: a click goes to the nearest point's frame ---
ui.latent.addEventListener("pointerdown", (event) => {
  const path = state.args && state.args.latent;
  if (!path || !state.media || !latentShown()) return;
  const box = ui.latent.getBoundingClientRect();
  const px = event.clientX - box.left;
  const py = event.clientY - box.top;
  let best = null;
  let bestDistance = LATENT_PICK_PX * LATENT_PICK_PX;
  for (let f = 0; f < path.points.length; f++) {
    const at = latentPixel(f);
    const d = at ? (at[0] - px) ** 2 + (at[1] - py) ** 2 : Infinity;
    if (d < bestDistance) {
      best = f;
      bestDistance = d;
    }
  }
  if (best !== null) show(best);
}, { capture: true });
function relayout() {
  if (!state.args) return Promise.resolve();
  const resized = [Plotly.Plots.resize(ui.plot)];
  if (latentShown()) resized.push(Plotly.Plots.resize(ui.latent));
  return Promise.all(resized).then(() => { describePlot(state.args.figure); draw(); });
}
ui.latentToggle.addEventListener("click", () => {
  state.latentOn = !state.latentOn;
  ui.latentToggle.setAttribute("aria-pressed", String(state.latentOn));
  ui.player.dataset.latent = latentShown() ? "1" : "0";
  relayout();
});

function describePlot(figure) {
  // Stable hooks for tests and assistive tools: what is shaded and where frames sit on screen.
  const spans = (figure.layout.shapes || []).filter((s) => s.name === "segment").map((s) => `${s.x0 + 0.5}-${s.x1 - 0.5}`);
  ui.plot.dataset.segmentCount = String(spans.length);
  ui.plot.dataset.segmentFrames = spans.join(",");
  const layout = ui.plot._fullLayout;
  if (layout && layout.xaxis) {
    const xa = layout.xaxis;
    ui.plot.dataset.frameZeroX = String(xa._offset + xa.l2p(0));
    ui.plot.dataset.frameStepX = String(xa.l2p(1) - xa.l2p(0));
    ui.plot.dataset.plotTop = String(layout.yaxis._offset);
    ui.plot.dataset.plotHeight = String(layout.yaxis._length);
  }
}

// --- rerun from Streamlit ---
function applyTheme(theme) {
  if (!theme) return;
  const root = document.documentElement.style;
  if (theme.textColor) root.setProperty("--text", theme.textColor);
  if (theme.secondaryBackgroundColor) root.setProperty("--panel", theme.secondaryBackgroundColor);
  if (theme.primaryColor) root.setProperty("--accent", theme.primaryColor);
}
function drawColorbar(lut) {
  const ctx = ui.colorbar.getContext("2d");
  const bar = ctx.createImageData(256, 1);
  for (let i = 0; i < 256; i++) {
    for (let c = 0; c < 3; c++) bar.data[4 * i + c] = lut[4 * i + c];
    bar.data[4 * i + 3] = 255;
  }
  ctx.putImageData(bar, 0, 0);
  ctx.drawImage(ui.colorbar, 0, 0, 256, 1, 0, 0, 256, 10);
}
async function onRender(args, theme) {
  applyTheme(theme);
  state.args = args;
  ui.player.dataset.mode = args.mode;
  ui.legendTitle.textContent = `${args.kind} error per pixel`;
  drawColorbar(args.lut);
  ui.player.dataset.latent = latentShown() ? "1" : "0"; // before the score plot takes its width
  const config = { displayModeBar: false, responsive: true, doubleClick: false };
  const { layout } = args.figure;
  const font = theme && theme.textColor ? { ...layout.font, color: theme.textColor } : layout.font;
  await Plotly.react(ui.plot, args.figure.data, { ...layout, font }, config);
  describePlot(args.figure);
  await drawLatent(args, font);
  if (args.seek && args.seek.id !== state.seekId) {
    state.seekId = args.seek.id;
    state.pendingSeek = args.seek.frame;
  }
  if (args.media !== state.mediaUrl) {
    state.mediaUrl = args.media;
    setPlaying(false);
    ui.player.dataset.ready = "0";
    ui.player.dataset.mediaError = "0";
    el("loading").textContent = LOADING;
    state.media = null;
    const url = args.media;
    let media;
    try {
      media = await loadMedia(url);
    } catch (error) {
      if (url !== state.mediaUrl) return;
      console.warn(error);
      state.mediaUrl = null; // the next rerun tries again: the clip may have been opened (published) anew
      ui.player.dataset.mediaError = "1";
      el("loading").textContent = MEDIA_GONE; // text, never HTML
      reportHeight();
      return;
    }
    if (url !== state.mediaUrl) return; // a newer clip arrived while this one loaded
    state.media = media;
    state.frame = 0;
    ui.scrub.max = String(media.frames - 1);
    el("tick-tau").style.left = `${100 / media.heat_range}%`; // the colour scale spans 0 .. heat_range x pixel tau
    const sub = document.createElement("sub"); // built, never parsed: nothing received is written as HTML
    sub.textContent = "px";
    el("tick-top").replaceChildren(document.createTextNode(`${media.heat_range} τ`), sub);
    ui.player.dataset.media = url;
    ui.player.dataset.ready = "1";
  }
  if (state.pendingSeek !== null && state.media) {
    setPlaying(false);
    state.frame = state.pendingSeek;
    state.pendingSeek = null;
  }
  show(state.frame);
  reportHeight();
}

window.addEventListener("resize", () => { relayout(); });
send("streamlit:componentReady", { apiVersion: 1 });
reportHeight();
