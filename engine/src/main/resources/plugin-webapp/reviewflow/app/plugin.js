/*
 * reviewflow's Cockpit page for one review: #/review/<process instance id>.
 *
 * The community Cockpit shows running process instances only: its page for a finished one
 * redirects to the process definition, whose instance list is runtime-only as well. This page
 * reads the history REST API (through Cockpit's own session-authenticated engine API), so it
 * shows a review whether it runs or has finished: business key, state, start and end time,
 * open incidents, and the diagram with the activities the run passed, drawn by the BPMN viewer
 * Cockpit itself uses (the camWidgetBpmnViewer directive). A running review links to
 * Cockpit's runtime page, where an operator retries its incidents.
 */

const STATES = {
  ACTIVE: "running",
  SUSPENDED: "suspended",
  COMPLETED: "completed",
  EXTERNALLY_TERMINATED: "canceled",
  INTERNALLY_TERMINATED: "terminated",
};

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value !== undefined && value !== null) el.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    el.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return el;
}

function instanceId() {
  const match = /^#\/review\/([^/?]+)/.exec(window.location.hash);
  return match ? decodeURIComponent(match[1]) : null;
}

function engineBase(api) {
  // Cockpit passes api.engineApi = "<app root>/api/engine/engine/<engine name>"
  if (api && api.engineApi) return api.engineApi.replace(/\/$/, "");
  const base = document.querySelector("base");
  const root = (base && base.getAttribute("engine-api")) || "/operaton/api/engine/";
  const parts = window.location.pathname.split("/").filter(Boolean);
  return `${root.replace(/\/$/, "")}/engine/${encodeURIComponent(parts[parts.length - 1] || "default")}`;
}

async function getJson(url) {
  const response = await fetch(url, {
    credentials: "same-origin",
    headers: { Accept: "application/json" },
  });
  if (!response.ok) {
    const error = new Error(`${response.status} ${response.statusText} for ${url}`);
    error.status = response.status;
    throw error;
  }
  return response.json();
}

function duration(ms) {
  if (ms === null || ms === undefined) return "";
  if (ms < 1000) return `${ms} ms`;
  const s = ms / 1000;
  if (s < 120) return `${s.toFixed(1)} s`;
  return `${Math.floor(s / 60)} min ${Math.round(s % 60)} s`;
}

function field(label, value, key) {
  return [h("dt", {}, label), h("dd", { "data-reviewflow": key }, value || "")];
}

function injector() {
  const angular = window.angular;
  for (const el of [document.documentElement, document.body, document.querySelector("[ng-app]")]) {
    const found = el && angular && angular.element(el).injector();
    if (found) return found;
  }
  return null;
}

/** Cockpit's BPMN viewer, compiled into `holder`, with the passed activities marked. */
function showDiagram(holder, scope, xml, counts) {
  const $injector = injector();
  if (!$injector || !scope) {
    holder.appendChild(h("p", { class: "text-muted" }, "(the BPMN viewer is not available)"));
    return;
  }
  const $compile = $injector.get("$compile");
  const child = scope.$new(true);
  child.diagramXml = xml;
  child.control = {};
  child.loaded = () => {
    const registry = child.control.getViewer().get("elementRegistry");
    for (const [activityId, count] of Object.entries(counts)) {
      if (!registry.get(activityId)) continue;
      child.control.highlight(activityId);
      child.control.createBadge(activityId, {
        html: h("span", { class: "badge reviewflow-passed", title: "times passed" }, String(count)),
        position: { bottom: 0, left: 0 },
      });
    }
    holder.setAttribute("data-reviewflow-diagram", "loaded");
  };
  const viewer = window.angular.element(
    '<div cam-widget-bpmn-viewer diagram-data="diagramXml" control="control" ' +
      'on-load="loaded()" style="width: 100%; height: 100%"></div>'
  );
  holder.appendChild(viewer[0]);
  $compile(viewer)(child);
  child.$applyAsync();
  scope.$on("$destroy", () => child.$destroy());
}

async function render(node, api, scope) {
  const id = instanceId();
  const page = h("div", { class: "reviewflow-review", style: "padding: 15px 20px" });
  node.appendChild(page);
  if (!id) {
    page.appendChild(h("p", {}, "No process instance id in the address (#/review/<id>)."));
    return;
  }
  const engine = engineBase(api);
  let instance;
  try {
    instance = await getJson(`${engine}/history/process-instance/${encodeURIComponent(id)}`);
  } catch (error) {
    page.appendChild(
      h("div", { class: "alert alert-danger", "data-reviewflow": "error" },
        error.status === 404 ? `No process instance ${id} (or its history was removed).` :
          `Could not load process instance ${id}: ${error.message}`)
    );
    return;
  }
  const q = `processInstanceId=${encodeURIComponent(id)}`;
  const [activities, incidents, pastIncidents, definition] = await Promise.all([
    getJson(`${engine}/history/activity-instance?${q}&sortBy=startTime&sortOrder=asc`),
    instance.endTime ? Promise.resolve([]) : getJson(`${engine}/incident?${q}`),
    getJson(`${engine}/history/incident/count?${q}`),
    getJson(`${engine}/process-definition/${encodeURIComponent(instance.processDefinitionId)}/xml`),
  ]);
  const state = STATES[instance.state] || String(instance.state).toLowerCase();
  const definitionLink = `#/process-definition/${encodeURIComponent(instance.processDefinitionId)}/runtime`;
  const runtimeLink = `#/process-instance/${encodeURIComponent(id)}/runtime`;

  page.appendChild(
    h("h2", { "data-reviewflow": "title" },
      `Review ${instance.businessKey || "(no business key)"} `,
      h("span", {
        class: `label ${instance.state === "COMPLETED" ? "label-success" : instance.endTime ? "label-default" : "label-primary"}`,
        "data-reviewflow": "state",
      }, instance.state))
  );
  page.appendChild(
    h("dl", { class: "dl-horizontal" },
      field("Business key", instance.businessKey, "business-key"),
      field("State", `${instance.state} (${state})`, "state-text"),
      field("Process instance", instance.id, "instance-id"),
      [h("dt", {}, "Process"), h("dd", {}, h("a", { href: definitionLink },
        `${instance.processDefinitionName || instance.processDefinitionKey} (version ${instance.processDefinitionVersion})`))],
      field("Started", instance.startTime, "start-time"),
      field("Ended", instance.endTime || "(running)", "end-time"),
      field("Duration", duration(instance.durationInMillis), "duration"),
      field("Open incidents", String(incidents.length), "open-incidents"),
      field("Incidents in total", String(pastIncidents.count), "incidents-total"))
  );
  if (!instance.endTime) {
    page.appendChild(
      h("p", {},
        h("a", { href: runtimeLink, class: "btn btn-default", "data-reviewflow": "runtime-link" },
          "Open the running instance (incidents, retries)"))
    );
  }
  if (incidents.length) {
    page.appendChild(
      h("div", { class: "alert alert-danger", "data-reviewflow": "incidents" },
        incidents.map((incident) => h("div", {},
          h("strong", {}, `${incident.activityId}: `), incident.incidentMessage || incident.incidentType)))
    );
  }

  const counts = {};
  for (const activity of activities) {
    counts[activity.activityId] = (counts[activity.activityId] || 0) + 1;
  }
  const holder = h("div", {
    class: "reviewflow-diagram",
    style: "height: 460px; border: 1px solid #ddd; position: relative; margin-bottom: 15px",
  });
  page.appendChild(h("h3", {}, "Diagram: the activities this run passed are highlighted"));
  page.appendChild(holder);
  showDiagram(holder, scope, definition.bpmn20Xml, counts);

  page.appendChild(h("h3", {}, `Activities passed (${activities.length})`));
  page.appendChild(
    h("table", { class: "table table-condensed", "data-reviewflow": "activities" },
      h("thead", {}, h("tr", {}, ["Activity", "Type", "Started", "Ended", "Duration"].map((t) => h("th", {}, t)))),
      h("tbody", {}, activities.map((a) => h("tr", { "data-activity-id": a.activityId },
        h("td", {}, a.activityName || a.activityId),
        h("td", {}, a.activityType),
        h("td", {}, a.startTime),
        h("td", {}, a.endTime || (a.canceled ? "canceled" : "(running)")),
        h("td", {}, duration(a.durationInMillis))))))
  );
}

export default {
  id: "reviewflow.review",
  pluginPoint: "cockpit.route",
  properties: { path: "/review/:id", label: "/review" },
  render: (node, context, scope) => {
    render(node, context && context.api, scope).catch((error) => {
      node.appendChild(h("div", { class: "alert alert-danger", "data-reviewflow": "error" },
        `reviewflow: ${error.message}`));
    });
  },
};
