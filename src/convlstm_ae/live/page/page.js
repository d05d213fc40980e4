// The page of `convlstm-ae watch --serve`: polls the JSON API once a second and each
// camera's picture a few times a second. Every name goes in as text (textContent,
// setAttribute), never as HTML.
"use strict";

const POLL_MS = 1000;
const PICTURE_MS = 250;
const CLIP_RETRY_MS = 2000;
const SVG = "http://www.w3.org/2000/svg";
const cards = new Map();
let lastEvent = 0;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svgElement(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

async function json(path) {
  const response = await fetch(path, { cache: "no-store", credentials: "same-origin" });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

function number(value, digits) {
  return value === null || value === undefined ? "–" : value.toFixed(digits);
}

function seconds(value) {
  if (value < 60) return `${Math.round(value)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

function card(camera) {
  const root = element("article", "camera");
  root.dataset.camera = camera.id;
  root.append(element("h2", "", camera.name));
  const picture = element("img");
  picture.alt = `latest frame of ${camera.name}`;
  const curve = svgElement("svg", { viewBox: "0 0 300 80", preserveAspectRatio: "none",
                                   role: "img", "aria-label": "score curve" });
  const caption = element("div", "muted");
  const status = element("div", "status");
  root.append(picture, curve, caption, status);
  document.getElementById("cameras").append(root);
  const parts = { root, picture, curve, caption, status, name: camera.name };
  const next = () => {  // until the camera is removed
    if (picture.isConnected) setTimeout(() => refreshPicture(camera.id, picture), PICTURE_MS);
  };
  picture.addEventListener("load", next);
  picture.addEventListener("error", next);
  refreshPicture(camera.id, picture);
  return parts;
}

function refreshPicture(id, picture) {
  if (document.hidden) {
    setTimeout(() => refreshPicture(id, picture), PICTURE_MS);
    return;
  }
  picture.src = `/api/cameras/${id}/frame.jpg?at=${Date.now()}`;
}

function showStatus(parts, camera) {
  parts.root.classList.toggle("alarm", camera.alarm);
  const state = camera.error ? `stopped: ${camera.error}`
    : camera.alarm ? "ALARM"
    : camera.finished ? "ended"
    : camera.connected === false ? (camera.reconnects ? "reconnecting" : "connecting")
    : camera.warming_up ? "warming up"
    : "live";
  const items = [
    [state, camera.alarm ? "badge alarm" : "badge"],
    [`score ${number(camera.score, 2)} / ${number(camera.threshold, 2)}`],
    [`${number(camera.fps_out, 1)} fps (in ${number(camera.fps_in, 1)})`],
    [`latency ${camera.latency_ms === undefined ? "–" : Math.round(camera.latency_ms)} ms`],
    [`frames ${camera.frames ?? "–"}`],
    [`drops ${camera.drops ?? "–"}`],
    [`reconnects ${camera.reconnects ?? "–"}`],
    [`events ${camera.events ?? "–"}`],
  ];
  if (camera.skipped) items.push([`${camera.skipped} skipped for the frame rate`]);
  parts.status.replaceChildren(...items.map(([text, className]) => element("span", className, text)));
}

function drawCurve(parts, curve) {
  const width = 300, height = 80;
  const scores = curve.scores.map((s) => (s === null ? 0 : s));
  const top = Math.max(2 * curve.threshold, ...scores, 1e-6);
  const bottom = Math.min(0, ...scores);
  const y = (value) => (2 + (height - 4) * (top - value) / (top - bottom)).toFixed(1);
  const x = (i) => (scores.length > 1 ? (i * width) / (scores.length - 1) : 0).toFixed(1);
  const points = scores.map((s, i) => `${x(i)},${y(s)}`).join(" ");
  const level = y(curve.threshold);
  const clip = `above-${parts.root.dataset.camera}`;
  const region = svgElement("clipPath", { id: clip });
  region.append(svgElement("rect", { x: 0, y: 0, width, height: level }));
  parts.curve.replaceChildren(
    region,
    svgElement("line", { x1: 0, x2: width, y1: level, y2: level, stroke: "#a0a0a0",
                         "stroke-dasharray": "4 4", "stroke-width": 1 }),
    svgElement("polyline", { class: "score", points, fill: "none", stroke: "#ffdc50",
                             "stroke-width": 1.5 }),
    svgElement("polyline", { points, fill: "none", stroke: "#e62828", "stroke-width": 2,
                             "clip-path": `url(#${clip})` }),
  );
  parts.caption.textContent = `score, last ${seconds(curve.seconds)}; dashed: threshold ` +
    `${number(curve.threshold, 2)}`;
}

function clipVideo(event) {
  // the file is there once the post-roll is over (404 until then): asked again until then
  const name = event.clip.split("/").pop();
  const video = element("video", "clip");
  video.controls = true;
  video.muted = true;
  video.preload = "metadata";
  video.title = name;
  video.setAttribute("aria-label", `clip of event ${event.id}: ${name}`);
  const load = () => { video.src = `/api/events/${event.id}/clip.mp4`; };
  video.addEventListener("error", () => setTimeout(load, CLIP_RETRY_MS));
  load();
  return video;
}

function eventItem(event) {
  const item = element("li");
  item.dataset.event = event.id;
  const snapshot = element("img");
  snapshot.src = `/api/events/${event.id}/snapshot.png`;
  snapshot.alt = `peak frame of event ${event.id}`;
  const text = element("div");
  const where = event.video && event.video !== event.source ? ` · ${event.video}` : "";
  text.append(element("p", "source", `${event.source}${where}`));
  const span = event.start_time === null || event.start_time === undefined ? ""
    : ` (${number(event.start_time, 1)}–${number(event.end_time, 1)} s)`;
  text.append(element("p", "", `frames ${event.start_frame}–${event.end_frame}${span}`));
  const duration = event.duration_s === undefined ? `${event.frames} frames`
    : `${number(event.duration_s, 1)} s, ${event.frames} frames`;
  text.append(element("p", "", `peak score ${number(event.peak_score, 2)} · ${duration}`));
  text.append(element("p", "muted", new Date(event.time * 1000).toLocaleTimeString()));
  if (event.clip) text.append(clipVideo(event));
  item.append(snapshot, text);
  return item;
}

async function tick() {
  try {
    const status = await json("/api/status");
    document.getElementById("state").textContent = status.running
      ? "running" : "the sources have ended";
    document.getElementById("threshold").textContent = status.threshold === null
      ? "thresholds per camera" : `threshold ${number(status.threshold, 2)}`;
    for (const camera of status.cameras) {
      if (cards.has(camera.id) && cards.get(camera.id).name !== camera.name) {
        cards.get(camera.id).root.remove();  // a removed camera's id, now another's
        cards.delete(camera.id);
      }
      if (!cards.has(camera.id)) cards.set(camera.id, card(camera));
      showStatus(cards.get(camera.id), camera);
    }
    const listed = new Set(status.cameras.map((c) => c.id));
    for (const [id, parts] of cards) {  // cameras removed from the cameras file
      if (!listed.has(id)) {
        parts.root.remove();
        cards.delete(id);
      }
    }
    const curves = await Promise.all(status.cameras.map((c) => json(`/api/cameras/${c.id}/scores`)));
    status.cameras.forEach((c, i) => drawCurve(cards.get(c.id), curves[i]));
    const found = (await json(`/api/events?since=${lastEvent}`)).events;
    const list = document.getElementById("events");
    for (const event of found.slice().reverse()) list.prepend(eventItem(event));
    if (found.length) {
      lastEvent = found[0].id;
      document.getElementById("no-events").hidden = true;
    }
  } catch (error) {
    document.getElementById("state").textContent = `no connection to watch (${error.message})`;
  }
  setTimeout(tick, POLL_MS);
}

tick();
