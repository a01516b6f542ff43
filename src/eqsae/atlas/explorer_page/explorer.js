"use strict";
// The feature explorer: reads EQSAE_RUN (data.js) and, per SAE picked, EQSAE_SAE[id] (<id>/data.js, loaded by
// a script element: pages opened from file:// may not fetch()). State lives in the URL's hash: #sae=<id>&latent=<n>
// for a latent's view, #sae=<id>&concept=<task> for a concept's latents across the SAEs of that SAE's seed, model, K.
(function () {
  const RUN = window.EQSAE_RUN;
  const COLORS = { "invariant": "#66c2a5", "period 2": "#fc8d62", "period 4": "#8da0cb", "mixed": "#e78ac3" };
  const LABELS = { base_model: "base model", sae_training: "practice", variant: "variant", k: "K", seed: "seed" };
  const COLUMNS = [  // [field, header, digits or "text"]
    ["latent", "latent", 0], ["class", "class", "text"], ["density", "density", 4], ["s_1", "s1", 2],
    ["s_2", "s2", 2], ["s_3", "s3", 2], ["orbit_corr", "orbit r", 2], ["concept", "best concept", "text"],
    ["concept_f1", "F1", 2], ["has_rotated_partner", "turned copy", "text"]];
  const state = { sae: null, data: null, latent: null, concept: null, sort: { key: "density", asc: false } };
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "style") Object.assign(node.style, value);
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children.flat()) if (child !== null && child !== undefined)
      node.append(child instanceof Node ? child : String(child));
    return node;
  }
  const svgEl = (tag, attrs) => {
    const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
    return node;
  };
  const fmt = (x, digits = 3) => (x === null || x === undefined) ? "–"
    : typeof x === "number" ? String(+x.toFixed(digits)) : String(x);
  const href = (sae, latent) => "#" + new URLSearchParams(latent === undefined || latent === null
    ? { sae } : { sae, latent: String(latent) }).toString();
  const go = (sae, latent) => { location.hash = href(sae, latent); };
  const conceptHref = (sae, concept) => "#" + new URLSearchParams({ sae, concept }).toString();
  const sae = (id) => RUN.saes.find((s) => s.id === id);

  function loadSae(id) {
    return new Promise((resolve, reject) => {
      if (window.EQSAE_SAE[id]) return resolve(window.EQSAE_SAE[id]);
      const script = el("script", { src: id + "/data.js" });
      script.onload = () => window.EQSAE_SAE[id] ? resolve(window.EQSAE_SAE[id]) : reject(new Error(id + "/data.js holds no SAE"));
      script.onerror = () => reject(new Error("cannot load " + id + "/data.js"));
      document.head.append(script);
    });
  }

  // The picker: a select per key; a choice with no SAE falls back to the closest one with that value.
  function renderPicker() {
    const form = $("picker");
    form.replaceChildren(...RUN.keys.map((key) => {
      const values = [...new Set(RUN.saes.map((s) => String(s[key])))];
      const select = el("select", { id: "pick-" + key, onchange: () => pick(key) },
        values.map((v) => el("option", { value: v, text: v })));
      return el("label", {}, LABELS[key] || key, " ", select);
    }));
  }
  function pick(changed) {
    const want = Object.fromEntries(RUN.keys.map((k) => [k, $("pick-" + k).value]));
    const score = (s) => String(s[changed]) !== want[changed] ? -1
      : RUN.keys.filter((k) => String(s[k]) === want[k]).length;
    const best = RUN.saes.reduce((a, b) => (score(b) > score(a) ? b : a));
    go(best.id, null);
  }
  function syncPicker(entry) {
    for (const key of RUN.keys) $("pick-" + key).value = String(entry[key]);
  }

  function renderCensus(entry) {
    const c = entry.census;
    const bar = el("div", { class: "bar" }, RUN.classes.map((name) => el("span", {
      title: name + ": " + c[name], style: { width: (c.n_live ? 100 * c[name] / c.n_live : 0) + "%", background: COLORS[name] } })));
    const legend = RUN.classes.map((name) => el("div", {},
      el("span", { class: "swatch", style: { background: COLORS[name] } }), name + ": ", el("b", { text: c[name] })));
    $("census").replaceChildren(el("h3", { text: "Census" }),
      el("div", {}, el("b", { text: c.n_live }), " live of " + c.n_latents + " latents; " + c.turned_copy + " with a turned copy"),
      bar, ...legend);
  }

  function renderSaeTable() {
    const head = el("tr", {}, [...RUN.keys.map((k) => LABELS[k] || k), "live", ...RUN.classes, "turned copy"]
      .map((h) => el("th", { text: h })));
    const rows = RUN.saes.map((s) => el("tr", { class: s.id === state.sae ? "selected" : "", onclick: () => go(s.id, null) },
      [...RUN.keys.map((k) => s[k]), s.census.n_live, ...RUN.classes.map((n) => s.census[n]), s.census.turned_copy]
        .map((v) => el("td", { text: v }))));
    $("sae-table").replaceChildren(head, ...rows);
  }

  function renderScatter(features) {
    const svg = $("scatter"), at = (s) => 15 + (s + 1) * 120;
    svg.replaceChildren(svgEl("rect", { x: 15, y: 15, width: 240, height: 240, fill: "none", stroke: "#ccc" }),
      svgEl("line", { x1: 15, x2: 255, y1: 135, y2: 135, stroke: "#999", "stroke-width": 0.5 }),
      svgEl("line", { x1: 135, x2: 135, y1: 15, y2: 255, stroke: "#999", "stroke-width": 0.5 }));
    for (const [text, x, y] of [["-1", 15, 12], ["s1 = 1", 225, 12], ["s2 = 1", 17, 25], ["-1", 17, 252]])
      svg.append(Object.assign(svgEl("text", { x, y, "font-size": 9, fill: "#666" }), { textContent: text }));
    for (const f of features) {
      const dot = svgEl("circle", { cx: at(f.s_1), cy: 270 - at(f.s_2), r: f.latent === state.latent ? 5 : 3,
        fill: COLORS[f.class] || "#999", stroke: f.latent === state.latent ? "#000" : "none", "data-latent": f.latent });
      dot.append(Object.assign(svgEl("title", {}), { textContent: `latent ${f.latent} (${f.class})` }));
      dot.addEventListener("click", () => go(state.sae, f.latent));
      svg.append(dot);
    }
  }

  // The feature table: every live latent, sortable (click a header) and filtered by the controls above it.
  function filtered(features) {
    const cls = $("f-class").value, turned = $("f-turned").value, concept = $("f-concept").value.trim().toLowerCase();
    const f1 = +$("f-f1").value || 0, density = +$("f-density").value || 0;
    return features.filter((f) => (!cls || f.class === cls)
      && (!turned || (turned === "yes") === Boolean(f.has_rotated_partner))
      && (!concept || String(f.concept).toLowerCase().includes(concept) || String(f.concept_group).toLowerCase() === concept)
      && (f.concept_f1 ?? 0) >= f1 && (f.density ?? 0) >= density);
  }
  function sorted(features) {
    const { key, asc } = state.sort, sign = asc ? 1 : -1;
    return [...features].sort((a, b) => {
      const x = a[key], y = b[key];
      if (x === y) return a.latent - b.latent;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (typeof x === "string" ? x.localeCompare(y) : (x > y ? 1 : -1)) * sign;
    });
  }
  function renderTable() {
    const features = state.data.features;
    const head = el("tr", {}, COLUMNS.map(([key, label, digits]) => el("th", {
      class: [digits === "text" ? "text" : "", state.sort.key === key ? "sorted" : "", state.sort.key === key && state.sort.asc ? "asc" : ""].join(" ").trim(),
      "data-key": key, text: label,
      onclick: () => { state.sort = { key, asc: state.sort.key === key ? !state.sort.asc : digits === "text" }; renderTable(); } })));
    $("feature-table").tHead.replaceChildren(head);
    const shown = sorted(filtered(features));
    $("feature-table").tBodies[0].replaceChildren(...shown.map((f) => el("tr", {
      "data-latent": f.latent, class: f.latent === state.latent ? "selected" : "", onclick: () => go(state.sae, f.latent) },
      COLUMNS.map(([key, , digits]) => el("td", { class: digits === "text" ? "text" : "",
        text: key === "has_rotated_partner" ? (f[key] ? "yes: " + f.rotated_partner : "no") : fmt(f[key], digits === "text" ? 0 : digits) })))));
    $("shown").textContent = `${shown.length} of ${features.length} live latents`;
  }
  function setupFilters() {
    $("f-class").append(...RUN.classes.map((c) => el("option", { value: c, text: c })));
    for (const id of ["f-class", "f-turned", "f-concept", "f-f1", "f-density"])
      for (const event of ["input", "change"]) $(id).addEventListener(event, () => state.data && renderTable());
    for (const event of ["input", "change"]) $("f-concept").addEventListener(event, conceptChoice);
  }

  // A cell of a latent's sheet (of SAE id): row 0 Dec(M^p d), then its top, band and random images. turn: quarter
  // turns counter-clockwise (g^p = np.rot90^p), how the page draws rot90^p of the p = 0 image from that one cell.
  function cell(png, row, col, size, title, turn = 0, id = state.sae) {
    const d = window.EQSAE_SAE[id];
    return el("div", { class: "cell", title: title || "", style: { transform: turn ? `rotate(${-90 * turn}deg)` : "",
      width: size + "px", height: size + "px", backgroundImage: `url("${id}/${png}")`,
      backgroundSize: `${RUN.turns * size}px ${d.sheet_rows * size}px`, backgroundPosition: `-${col * size}px -${row * size}px` } });
  }
  function latentLink(j, self) {
    const f = state.data.features.find((x) => x.latent === j);
    if (j === self) return el("span", { text: "itself" });
    if (j === null || j === undefined || j < 0) return el("span", { text: "none" });
    return f ? el("a", { href: href(state.sae, j), class: "partner", "data-latent": j, text: "latent " + j })
      : el("span", { text: `latent ${j} (dead)` });
  }
  function histogram(hist) {
    const w = 260, h = 70, n = hist.counts.length, top = Math.max(1, ...hist.counts);
    const svg = svgEl("svg", { width: w, height: h + 14, class: "histogram", role: "img", "aria-label": "activation histogram" });
    hist.counts.forEach((c, i) => svg.append(svgEl("rect", { x: i * w / n, y: h - h * c / top, width: w / n - 1, height: h * c / top, fill: "#8da0cb" })));
    for (const [text, x, anchor] of [[fmt(hist.lo, 2), 0, "start"], [fmt(hist.hi, 2), w, "end"]])
      svg.append(Object.assign(svgEl("text", { x, y: h + 12, "font-size": 10, "text-anchor": anchor }), { textContent: text }));
    return svg;
  }
  function renderDetail() {
    const box = $("detail"), f = state.data.features.find((x) => x.latent === state.latent);
    delete box.dataset.loaded;
    box.scrollTop = 0;
    if (!f) { box.replaceChildren(el("p", { class: "hint", text: "Pick a feature in the table or the scatter plot." })); return; }
    const rows = [["density", fmt(f.density, 4)], ["mean / max activation", `${fmt(f.mean_activation)} / ${fmt(f.max_activation)}`],
      ["s_p = cos(M^p d, d)", [1, 2, 3].map((p) => `s${p} ${fmt(f["s_" + p], 2)}`).join(", ")],
      ["best concept", [`${f.concept} (${f.concept_group}), F1 ${fmt(f.concept_f1, 2)} `, f.concept ?
        el("a", { href: conceptHref(state.sae, f.concept), class: "concept-link", text: "this concept in other SAEs" }) : null]],
      ["orbit strip r (M = I)", `${fmt(f.orbit_corr, 2)} (${fmt(f.orbit_corr_unturned, 2)})`],
      ["isotypic split", `invariant ${fmt(f.iso_invariant, 2)}, sign ${fmt(f.iso_sign, 2)}, rotation ${fmt(f.iso_rotation, 2)}`],
      ["|M^4 d - d| / |d|", fmt(f.order_residual, 3)]];
    const atom = el("div", { class: "atom" }, cell(f.png, 0, 0, 192, "Dec(a + alpha d) - Dec(a)"),
      el("div", { class: "colorbar", style: { background: RUN.colorbar } }),
      el("div", { class: "colorbar-labels" }, el("span", { text: "+" + fmt(f.lim, 3) }), el("span", { text: "0" }), el("span", { text: "-" + fmt(f.lim, 3) })));
    const strip = (turned, label) => el("div", { class: "strip" }, [...Array(RUN.turns).keys()].map((p) =>
      el("figure", {}, turned ? cell(f.png, 0, 0, 96, "", p) : cell(f.png, 0, p, 96), el("figcaption", { text: label(p) }))));
    // an example is [image, p (the g^p it fires most at), activation] and, for the top ones, its rotation response
    const tops = (f.top || []).map(([image, p, activation, response], i) => el("figure", { class: "top" },
      cell(f.png, 1 + Math.floor(i / RUN.turns), i % RUN.turns, 96, `image ${image}`),
      el("figcaption", {}, `${fmt(activation, 2)} at g^${p}`, el("br"), el("span", { class: "note", text: "g^0..3: " + response.map((a) => fmt(a, 1)).join(" ") }))));
    let packed = (f.top || []).length;  // the sheet packs the top, band and random images in that order
    const shown = ([image, p, activation], cls) => { const k = packed++; return el("figure", { class: cls },
      cell(f.png, 1 + Math.floor(k / RUN.turns), k % RUN.turns, 64, `image ${image}`),
      el("figcaption", { text: `${fmt(activation, 2)} at g^${p}` })); };
    const bands = (f.bands || []).map((b) => el("div", { class: "band" },
      el("div", { class: "band-label" }, `${fmt(b.lo, 2)} – ${fmt(b.hi, 2)}`, el("br"), el("span", { class: "note", text: `${b.n} images` })),
      b.examples.length ? b.examples.map((t) => shown(t, "band-example")) : el("span", { class: "hint", text: "all among the top" })));
    const random = (f.random || []).map((t) => shown(t, "random-example"));
    const partners = el("ul", {}, [1, 2, 3].map((p) => el("li", {}, `partner at g^${p}: `, latentLink(f["partner_" + p], f.latent), ` (cos ${fmt(f["partner_cos_" + p], 2)})`)),
      el("li", {}, "turned copy: ", f.has_rotated_partner ? "yes, " : "no; best candidate ", latentLink(f.rotated_partner, f.latent),
        ` at g^${f.rotated_partner_p} (cos ${fmt(f.rotated_partner_cos, 2)}, gain ${fmt(f.rotated_partner_gain, 2)})`));
    box.replaceChildren(el("h2", {}, `latent ${f.latent} `, el("span", { class: "swatch", style: { background: COLORS[f.class] } }), f.class),
      el("table", { class: "kv" }, rows.map(([k, v]) => el("tr", {}, el("td", { text: k }), el("td", {}, v)))),
      ...(state.data.decoded === false ? [el("p", { class: "hint", id: "undrawn",
        text: "This source has no decoder, so nothing draws the latent: its inputs below are what it responds to." })] : [
      el("h3", { text: "What it draws (decoded atom, colour bar ±lim)" }), atom,
      el("h3", { text: "Orbit strip: Dec(M^p d) over rot90^p of the p = 0 image" }),
      el("div", { class: "orbit" }, strip(false, (p) => `Dec M^${p} d` + (p ? ` r=${fmt(f["orbit_corr_" + p], 2)}` : "")), strip(true, (p) => `rot90^${p}`))]),
      el("h3", { text: `Top probing images (activation at the group element where it fires most)` }),
      el("div", { class: "tops" }, tops.length ? tops : el("p", { class: "hint", text: "none" })),
      el("h3", { text: "Quantile bands of its firing images (highest first; a few drawn from each, beyond the top)" }),
      el("div", { class: "bands" }, bands),
      el("h3", { text: "Random firing images (beyond those above)" }),
      el("div", { class: "tops" }, random.length ? random : el("p", { class: "hint", text: "none left" })),
      el("h3", { text: "Activation histogram (non-zero activations on the probing rows)" }), histogram(f.hist),
      el("h3", { text: "Partners and turned copies" }), partners);
    const img = new Image();
    img.onload = () => { box.dataset.loaded = f.png; };
    img.onerror = () => console.error(`cannot load ${state.sae}/${f.png}`);
    img.src = `${state.sae}/${f.png}`;
  }

  // A concept across SAEs: for each SAE of the picked one's seed, base model and K, the latents whose best
  // concept it is (a probe task's name), with F1, class and atom; each links to its latent's view.
  function peers(entry) {
    return RUN.saes.filter((s) => s.seed === entry.seed && s.base_model === entry.base_model && s.k === entry.k);
  }
  function conceptRow(s, f) {
    return el("tr", { "data-sae": s.id, "data-latent": f.latent },
      el("td", { class: "text", text: `${s.sae_training} ${s.variant}` }),
      el("td", {}, el("a", { href: href(s.id, f.latent), class: "concept-latent", "data-sae": s.id, "data-latent": f.latent, text: "latent " + f.latent })),
      el("td", { class: "text" }, el("span", { class: "swatch", style: { background: COLORS[f.class] } }), f.class),
      el("td", { text: fmt(f.concept_f1, 2) }), el("td", { text: fmt(f.density, 4) }),
      el("td", {}, cell(f.png, 0, 0, 48, "Dec(a + alpha d) - Dec(a)", 0, s.id)));
  }
  async function renderConcept(concept) {
    const box = $("detail"), entry = sae(state.sae), group = peers(entry);
    delete box.dataset.concept;
    box.replaceChildren(el("p", { class: "hint", text: `loading ${group.length} SAEs ...` }));
    await Promise.all(group.map((s) => loadSae(s.id)));
    if (state.concept !== concept || state.sae !== entry.id) return;  // the view changed meanwhile
    const rows = group.flatMap((s) => {
      const hits = window.EQSAE_SAE[s.id].features.filter((f) => f.concept === concept)
        .sort((a, b) => (b.concept_f1 ?? -1) - (a.concept_f1 ?? -1) || a.latent - b.latent);
      return hits.length ? hits.map((f) => conceptRow(s, f))
        : [el("tr", { "data-sae": s.id, class: "none" }, el("td", { class: "text", text: `${s.sae_training} ${s.variant}` }), el("td", { colspan: 5, class: "text hint", text: "no latent" }))];
    });
    const head = el("tr", {}, ["SAE", "latent", "class", "F1", "density", "atom"].map((h) => el("th", { text: h })));
    box.replaceChildren(el("h2", { text: `concept ${concept}` }),
      el("p", { class: "hint", text: `the latents whose best concept it is, in each SAE of seed ${entry.seed}, ${entry.base_model}, K = ${entry.k} (best F1 first)` }),
      el("table", { id: "concept-table" }, el("thead", {}, head), el("tbody", {}, rows)));
    box.dataset.concept = concept;
  }
  function conceptChoice() {  // the concept search's link to that concept across SAEs, once it names one
    const name = $("f-concept").value.trim(), known = state.data && state.data.features.some((f) => f.concept === name);
    $("concept-across").hidden = !known;
    if (known) $("concept-across").href = conceptHref(state.sae, name);
  }

  async function route() {
    const params = new URLSearchParams(location.hash.slice(1));
    const entry = sae(params.get("sae")) || RUN.saes[0];
    const latent = params.has("latent") ? Number(params.get("latent")) : null;
    const concept = params.get("concept");
    try {
      if (entry.id !== state.sae) {
        $("status").textContent = "loading " + entry.id + " ...";
        state.data = await loadSae(entry.id);
        state.sae = entry.id;
        syncPicker(entry); renderCensus(entry); renderSaeTable();
        $("concepts").replaceChildren(...[...new Set(state.data.features.map((f) => f.concept))].sort().map((c) => el("option", { value: c })));
        $("status").textContent = "";
      }
      state.latent = concept ? null : latent;
      state.concept = concept;
      renderTable(); renderScatter(state.data.features); conceptChoice();
      if (concept) await renderConcept(concept); else renderDetail();
      document.querySelector("#feature-table tr.selected")?.scrollIntoView({ block: "nearest", inline: "nearest" });
    } catch (error) {
      $("status").textContent = String(error.message || error);
      console.error(error);
    }
  }

  $("run").textContent = `(run ${RUN.run}: ${RUN.saes.length} SAEs)`;
  renderPicker(); setupFilters();
  window.addEventListener("hashchange", route);
  route();
})();
