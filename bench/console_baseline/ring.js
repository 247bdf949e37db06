// The ring picture: cytoscape with the fcose layout over the console's graph JSON.
"use strict";
(function () {
  var box = document.getElementById("graph");
  var prefix = box.getAttribute("data-prefix");
  var STATE = { banned: "#c0392b", review: "#e67e22", flagged: "#f1c40f", clear: "#27ae60" };
  var KIND = {
    device: "#8e44ad", phone: "#2980b9", phone_block: "#5dade2", card: "#d35400",
    ip: "#16a085", subnet: "#76d7c4", email: "#7f8c8d", email_domain: "#bdc3c7"
  };
  var hidden = {};
  var paging = {};  // identifier node id -> next offset when "N more" remain
  cytoscape.use(cytoscapeFcose);

  function elements(data) {
    var out = [];
    data.nodes.forEach(function (n) { out.push({ group: "nodes", data: n }); });
    data.edges.forEach(function (e) { out.push({ group: "edges", data: e }); });
    return out;
  }

  function size(n) {
    if (n.data("type") === "account") { return 14 + 26 * (n.data("risk") || 0); }
    return 10 + 4 * Math.log2(1 + (n.data("accounts") || 1));
  }

  var cy = cytoscape({
    container: box,
    wheelSensitivity: 0.3,
    style: [
      { selector: "node[type = 'account']", style: {
        "background-color": function (n) { return STATE[n.data("state")] || "#999"; },
        width: size, height: size, shape: "ellipse", "border-width": 1, "border-color": "#333" } },
      { selector: "node[type = 'identifier']", style: {
        "background-color": function (n) { return KIND[n.data("kind")] || "#555"; },
        shape: "round-diamond", width: size, height: size, label: "data(label)",
        "font-size": 8, color: "#222", "text-valign": "bottom" } },
      { selector: "edge[type = 'identifier']", style: {
        width: 1, "line-color": function (e) { return KIND[e.data("kind")] || "#aaa"; }, opacity: 0.6 } },
      { selector: "edge[type = 'behaviour']", style: {
        width: 2, "line-style": "dashed", "line-color": "#2c3e50", "target-arrow-shape": "triangle",
        "target-arrow-color": "#2c3e50", "curve-style": "bezier" } },
      { selector: ".filtered", style: { display: "none" } },
      { selector: ":selected", style: { "border-width": 4, "border-color": "#000" } }
    ]
  });
  window.ringwatchGraph = cy;

  function layout(done) {
    var l = cy.layout({ name: "fcose", quality: "default", randomize: true, animate: false,
      nodeRepulsion: 6000, idealEdgeLength: 60, numIter: 1500 });
    if (done) { l.one("layoutstop", done); }
    l.run();
  }

  function applyFilters() {
    var from = Date.parse(document.getElementById("time-from").value + "Z");
    var to = Date.parse(document.getElementById("time-to").value + "Z");
    cy.batch(function () {
      cy.elements().removeClass("filtered");
      cy.edges().forEach(function (e) {
        var kind = e.data("type") === "behaviour" ? "behaviour" : e.data("kind");
        var seen = e.data("first_seen");
        if (seen && seen < 1e11) { seen *= 1000; }  // epoch seconds
        if (hidden[kind] || (!isNaN(from) && seen && seen < from) || (!isNaN(to) && seen && seen > to)) {
          e.addClass("filtered");
        }
      });
      cy.nodes("[type = 'identifier']").forEach(function (n) {
        if (hidden[n.data("kind")] || n.connectedEdges(":not(.filtered)").length === 0) { n.addClass("filtered"); }
      });
    });
  }

  function show(n) {
    var d = n.data();
    var box = document.getElementById("selected");
    box.textContent = "";
    var title = document.createElement("p");
    if (d.type === "account") {
      var a = document.createElement("a");
      a.href = prefix + "/accounts/" + encodeURIComponent(d.label);
      a.textContent = d.label;
      title.appendChild(a);
      title.appendChild(document.createTextNode(" · " + d.state + " · risk " + d.risk));
    } else {
      title.textContent = d.kind + " " + d.key + " · used by " + d.accounts + " accounts";
    }
    box.appendChild(title);
    document.getElementById("expand").disabled = false;
    var more = document.getElementById("more");
    more.hidden = !(paging[d.id] && paging[d.id].more > 0);
    if (!more.hidden) { more.textContent = paging[d.id].more + " more"; }
  }

  function add(data) {
    var fresh = elements(data).filter(function (el) { return cy.getElementById(el.data.id).empty(); });
    cy.add(fresh);
    applyFilters();
    return fresh.filter(function (el) { return el.group === "nodes"; }).length;
  }

  function expand(n, offset) {
    var d = n.data();
    var url = d.type === "account"
      ? prefix + "/graph/account/" + encodeURIComponent(d.label)
      : prefix + "/graph/identifier?kind=" + encodeURIComponent(d.kind) + "&key=" + encodeURIComponent(d.key) + "&offset=" + (offset || 0);
    fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (data) {
      var added = add(data);
      if (d.type === "identifier") {
        paging[d.id] = { offset: data.offset + data.nodes.length, more: data.more };
      }
      box.setAttribute("data-expanded", String(added));
      if (added) { layout(); }
      show(n);
    });
  }

  cy.on("select", "node", function (evt) { show(evt.target); });
  cy.on("dbltap", "node", function (evt) { expand(evt.target, 0); });
  document.getElementById("expand").addEventListener("click", function () {
    var n = cy.$("node:selected");
    if (n.nonempty()) { expand(n[0], 0); }
  });
  document.getElementById("more").addEventListener("click", function () {
    var n = cy.$("node:selected");
    if (n.nonempty() && paging[n[0].id()]) { expand(n[0], paging[n[0].id()].offset); }
  });
  document.querySelectorAll(".hide-kind").forEach(function (box) {
    box.addEventListener("change", function () { hidden[box.value] = box.checked; applyFilters(); });
  });
  ["time-from", "time-to"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", applyFilters);
  });
  document.getElementById("fit").addEventListener("click", function () { cy.fit(); });
  document.getElementById("export-png").addEventListener("click", function () {
    var a = document.createElement("a");
    a.href = cy.png({ full: true, scale: 2, bg: "#ffffff" });
    a.download = "ring-" + document.getElementById("ring-id").textContent + ".png";
    document.body.appendChild(a);
    a.click();
    a.remove();
  });

  function timeline(nodes) {
    var times = nodes.filter(function (n) { return n.type === "account" && n.created_at; })
      .map(function (n) { return n.created_at * 1000; }).sort(function (a, b) { return a - b; });
    var c = document.getElementById("timeline");
    var g = c.getContext("2d");
    if (!times.length) { return; }
    var lo = times[0], hi = times[times.length - 1], bins = new Array(40).fill(0);
    times.forEach(function (t) { bins[Math.min(39, Math.floor(39 * (t - lo) / Math.max(1, hi - lo)))] += 1; });
    var top = Math.max.apply(null, bins);
    g.fillStyle = "#2980b9";
    bins.forEach(function (b, i) { var h = 60 * b / top; g.fillRect(i * 8, 64 - h, 7, h); });
    g.fillStyle = "#222";
    g.font = "10px sans-serif";
    g.fillText(new Date(lo).toISOString().slice(0, 16), 0, 78);
    g.textAlign = "right";
    g.fillText(new Date(hi).toISOString().slice(0, 16), 320, 78);
  }

  var started = performance.now();
  fetch(box.getAttribute("data-graph"), { credentials: "same-origin" })
    .then(function (r) { return r.json(); })
    .then(function (data) {
      var list = document.getElementById("evidence-lines");
      list.textContent = "";
      data.evidence.forEach(function (line) {
        var li = document.createElement("li");
        li.textContent = line;
        list.appendChild(li);
      });
      cy.add(elements(data));
      timeline(data.nodes);
      layout(function () {
        box.setAttribute("data-rendered-ms", String(Math.round(performance.now() - started)));
        // performance.now() counts from navigation start: the whole wait an investigator sees.
        box.setAttribute("data-ready-at", String(Math.round(performance.now())));
        box.setAttribute("data-ready", "1");
      });
    });
})();
