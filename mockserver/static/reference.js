// The reference below the workspace: a card per protocol (endpoints, client code), the
// scenarios, and the faults the server can inject.

import { snippets } from "./snippets.js";
import { $, ROOT, WS_ROOT, h } from "./dom.js";

// --- the reference: protocol cards, scenarios, faults ----------------------------------------

export function renderCards(protocols) {
  $("#protocol-cards").replaceChildren(...protocols.map((proto) => card(proto)));
}

function card(proto) {
  const codes = snippets(proto.name, ROOT, WS_ROOT);
  let active = 0;
  const panes = codes.map((snippet, i) =>
    h("pre", { class: "code", hidden: i !== 0, "data-label": snippet.label }, h("code", {}, snippet.code)),
  );
  const tabs = codes.map((snippet, i) =>
    h(
      "button",
      {
        type: "button",
        role: "tab",
        class: i === 0 ? "tab active" : "tab",
        onclick: () => {
          active = i;
          tabs.forEach((tab, k) => tab.classList.toggle("active", k === i));
          panes.forEach((pane, k) => (pane.hidden = k !== i));
        },
      },
      snippet.label,
    ),
  );
  const copyButton = h("button", { type: "button", class: "copy", onclick: (e) => copy(codes[active].code, e.target) }, "Copy");
  return h(
    "article",
    { class: "card", id: `card-${proto.name}` },
    h(
      "div",
      { class: "card-info" },
      h(
        "header",
        {},
        h("h3", {}, proto.name),
        h("span", { class: `badge ${proto.transport}` }, proto.transport === "ws" ? "WebSocket" : "SSE"),
      ),
      h("p", { class: "title" }, proto.title),
      h("p", { class: "imitates" }, `imitates ${proto.imitates}`),
      h(
        "table",
        { class: "endpoints" },
        h(
          "tbody",
          {},
          proto.endpoints.map((e) =>
            h(
              "tr",
              {},
              h("td", {}, h("span", { class: `method m-${e.method.toLowerCase()}` }, e.method)),
              h(
                "td",
                {},
                h("code", { class: "path" }, e.path),
                h("div", { class: "summary" }, e.summary, e.stream ? h("span", { class: "stream" }, "stream") : null),
              ),
            ),
          ),
        ),
      ),
    ),
    h("div", { class: "card-code" }, h("div", { class: "tabs", role: "tablist" }, tabs, copyButton), panes),
  );
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select & copy";
  }
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

export function renderScenarioTable(scenarios) {
  $("#scenario-rows").replaceChildren(
    ...scenarios.map((s) =>
      h(
        "tr",
        {},
        h("td", {}, h("code", {}, s.name)),
        h("td", {}, s.kind),
        h("td", {}, s.description || ""),
        h("td", {}, s.protocols ? s.protocols.join(", ") : "all"),
        h("td", { class: "num" }, s.turns ?? ""),
      ),
    ),
  );
}

export function renderFaults(faults) {
  const box = $("#faults");
  const list = $("#fault-list");
  if (faults === null) {
    box.replaceChildren(
      h(
        "p",
        { class: "placeholder" },
        "This server lists no faults (GET /_streamctl/faults is not available). The form's fault field is still sent as ",
        h("code", {}, "?fault=NAME"),
        ".",
      ),
    );
    $("#faults-title").hidden = false;
  } else {
    // An example is ready to send (a bare name may need parameters: "drop" needs after= or ms=).
    list.replaceChildren(...faults.map((f) => h("option", { value: f.example ?? f.name }, f.description || "")));
    box.replaceChildren(
      h(
        "table",
        { class: "grid" },
        h("thead", {}, h("tr", {}, h("th", {}, "fault"), h("th", {}, "what it does"))),
        h(
          "tbody",
          {},
          faults.map((f) => h("tr", {}, h("td", {}, h("code", {}, f.name)), h("td", {}, f.description || ""))),
        ),
      ),
    );
  }
}
