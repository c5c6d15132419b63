// Symbiosis Ledger dashboard: what JavaScript adds to pages that read fine without it.
// Written here, loaded from the service (no CDN): wallet sign-in, a pannable and zoomable lineage graph
// with its paths highlighted, and sortable tables.
"use strict";

// --- sign-in with a browser wallet (EIP-4361 message, signed with personal_sign) ------------------------
async function walletSignIn(button) {
  const error = document.getElementById("wallet-error");
  error.hidden = true;
  try {
    const [address] = await window.ethereum.request({ method: "eth_requestAccounts" });
    const challenge = await fetch("/auth/challenge", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ address }),
    });
    const body = await challenge.json();
    if (!challenge.ok) throw new Error(body.detail.map((d) => d.msg).join("; "));
    const signature = await window.ethereum.request({ method: "personal_sign", params: [body.message, address] });
    // A plain form post: the service answers with its cookie and sends the browser on, as for a login link.
    const form = document.createElement("form");
    form.method = "post";
    form.action = "/dashboard/sign-in";
    for (const [name, value] of Object.entries({ message: body.message, signature, next: button.dataset.next })) {
      const input = document.createElement("input");
      Object.assign(input, { type: "hidden", name, value });
      form.append(input);
    }
    document.body.append(form);
    form.submit();
  } catch (e) {
    error.textContent = `The wallet did not sign in: ${e.message || e}`;
    error.hidden = false;
  }
}

function setUpWallet() {
  const section = document.getElementById("wallet");
  if (!section || !window.ethereum) return;
  section.hidden = false;
  const button = document.getElementById("wallet-sign-in");
  button.addEventListener("click", () => walletSignIn(button));
}

// --- the lineage graph: drag to pan, wheel or buttons to zoom, hover to follow a record's links --------
function setUpGraph(box) {
  const svg = box.querySelector("svg");
  const [x0, y0, w0, h0] = svg.getAttribute("viewBox").split(" ").map(Number);
  let view = { x: x0, y: y0, w: w0, h: h0 };
  const show = () => svg.setAttribute("viewBox", `${view.x} ${view.y} ${view.w} ${view.h}`);
  svg.removeAttribute("height");
  svg.style.width = "100%";
  svg.style.height = `${Math.min(Math.max(h0, 240), 640)}px`;

  const zoom = (factor, cx = view.x + view.w / 2, cy = view.y + view.h / 2) => {
    const w = Math.min(Math.max(view.w * factor, w0 / 8), w0 * 4);
    const k = w / view.w;
    view = { x: cx - (cx - view.x) * k, y: cy - (cy - view.y) * k, w, h: view.h * k };
    show();
  };
  svg.addEventListener("wheel", (event) => {
    event.preventDefault();
    const r = svg.getBoundingClientRect();
    zoom(event.deltaY > 0 ? 1.15 : 1 / 1.15,
      view.x + ((event.clientX - r.left) / r.width) * view.w, view.y + ((event.clientY - r.top) / r.height) * view.h);
  }, { passive: false });

  let drag = null;
  svg.addEventListener("pointerdown", (event) => {
    if (event.target.closest("a")) return;
    drag = { x: event.clientX, y: event.clientY, view: { ...view } };
    svg.setPointerCapture(event.pointerId);
  });
  svg.addEventListener("pointermove", (event) => {
    if (!drag) return;
    const r = svg.getBoundingClientRect();
    view.x = drag.view.x - ((event.clientX - drag.x) / r.width) * view.w;
    view.y = drag.view.y - ((event.clientY - drag.y) / r.height) * view.h;
    show();
  });
  svg.addEventListener("pointerup", () => { drag = null; });

  const tools = document.createElement("div");
  tools.className = "graph-tools";
  for (const [label, act] of [["+", () => zoom(1 / 1.3)], ["−", () => zoom(1.3)], ["Reset", () => { view = { x: x0, y: y0, w: w0, h: h0 }; show(); }]]) {
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.addEventListener("click", act);
    tools.append(b);
  }
  box.prepend(tools);

  // Hovering a record lights it and every link up- and downstream of it; the rest fades.
  const links = [...svg.querySelectorAll(".link")];
  const reach = (id, end, next) => {
    const seen = new Set([id]);
    const queue = [id];
    while (queue.length) {
      const at = queue.shift();
      for (const l of links) if (l.dataset[end] === at && !seen.has(l.dataset[next])) { seen.add(l.dataset[next]); queue.push(l.dataset[next]); }
    }
    return seen;
  };
  for (const node of svg.querySelectorAll(".node")) {
    node.addEventListener("mouseenter", () => {
      const lit = new Set([...reach(node.dataset.id, "source", "target"), ...reach(node.dataset.id, "target", "source")]);
      svg.classList.add("tracing");
      for (const l of links) l.classList.toggle("lit", lit.has(l.dataset.source) && lit.has(l.dataset.target));
      for (const n of svg.querySelectorAll(".node")) n.classList.toggle("lit", lit.has(n.dataset.id));
    });
    node.addEventListener("mouseleave", () => svg.classList.remove("tracing"));
  }
}

// --- sortable tables: a click on a column's header sorts by it, again reverses ---------------------------
function setUpSorting(table) {
  table.querySelectorAll("thead th").forEach((th, column) => {
    th.tabIndex = 0;
    th.title = "Sort by this column";
    const sort = () => {
      const body = table.tBodies[0];
      const ascending = th.dataset.order !== "asc";
      table.querySelectorAll("thead th").forEach((h) => delete h.dataset.order);
      th.dataset.order = ascending ? "asc" : "desc";
      const key = (row) => {
        // A cell led by a number ("2,480,000 kg") sorts by it; any other (a date, a name) as text.
        const text = row.cells[column]?.textContent.trim() ?? "";
        const number = text.match(/^-?[\d,]*\.?\d+(?=\s|$)/);
        return number ? Number(number[0].replace(/,/g, "")) : text.toLowerCase();
      };
      const rows = [...body.rows].sort((a, b) => {
        const [ka, kb] = [key(a), key(b)];
        return (ka < kb ? -1 : ka > kb ? 1 : 0) * (ascending ? 1 : -1);
      });
      body.append(...rows);
    };
    th.addEventListener("click", sort);
    th.addEventListener("keydown", (event) => { if (event.key === "Enter") sort(); });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  document.documentElement.classList.add("js");
  setUpWallet();
  document.querySelectorAll("[data-pannable]").forEach(setUpGraph);
  document.querySelectorAll("table[data-sortable]").forEach(setUpSorting);
});
