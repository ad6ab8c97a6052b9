// dbmon status page: follows /events (server-sent events) and updates each cluster's row
// in place. Every value is written as text (textContent), never as HTML.
(function () {
  'use strict';
  var SYMBOLS = { healthy: '✓', degraded: '▲', unhealthy: '✕', unreachable: '⚠' };
  var root = document.body.getAttribute('data-root') || './';
  var live = document.getElementById('live');
  var head = document.getElementById('head');
  var only = head ? head.getAttribute('data-cluster') : null;
  var tbody = document.querySelector('#clusters tbody');
  var refreshAt = 0;

  function ago(ms) {
    var s = Math.max(0, Math.floor(ms / 1000));
    if (s === 0) return 'just now';
    if (s < 120) return s + ' s ago';
    if (s < 7200) return Math.floor(s / 60) + ' min ago';
    if (s < 172800) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }

  function field(el, name) { return el.querySelector('[data-f="' + name + '"]'); }

  function setReasons(el, row) {
    var cell = field(el, 'reasons');
    if (!cell) return;
    var all = row.reasons.slice();
    if (row.stale_reason) all.push(row.stale_reason);
    cell.textContent = '';
    if (all.length === 0) return;
    var ul = document.createElement('ul');
    all.forEach(function (r) {
      var li = document.createElement('li');
      li.textContent = r;
      ul.appendChild(li);
    });
    cell.appendChild(ul);
  }

  function newRow(row) {
    var tr = document.createElement('tr');
    var th = document.createElement('th');
    th.scope = 'row';
    var a = document.createElement('a');
    a.href = root + 'cluster/' + encodeURIComponent(row.id);
    a.textContent = row.id;
    th.appendChild(a);
    tr.appendChild(th);
    var cells = [['badge'], ['reasons'], ['wide', row.connector], ['wide collector'], ['time'], ['wide spark']];
    cells.forEach(function (c) {
      var td = document.createElement('td');
      if (c[0].indexOf('wide') === 0) td.className = 'wide';
      if (c[0] === 'badge') {
        var b = document.createElement('span');
        b.className = 'badge';
        b.setAttribute('data-f', 'verdict');
        td.appendChild(b);
      } else if (c[0] === 'reasons') {
        td.setAttribute('data-f', 'reasons');
      } else if (c[0] === 'time') {
        var t = document.createElement('time');
        t.setAttribute('data-f', 'last');
        td.appendChild(t);
      } else if (c[0] === 'wide collector') {
        td.setAttribute('data-f', 'collector');
      } else if (c[0] === 'wide spark') {
        var svg = document.createElementNS('http://www.w3.org/2000/svg', 'svg');
        svg.setAttribute('class', 'spark');
        svg.setAttribute('width', '120');
        svg.setAttribute('height', '24');
        svg.setAttribute('viewBox', '0 0 120 24');
        svg.setAttribute('role', 'img');
        svg.appendChild(document.createElementNS('http://www.w3.org/2000/svg', 'path'));
        td.appendChild(svg);
      } else {
        td.textContent = c[1];
      }
      tr.appendChild(td);
    });
    tr.setAttribute('data-cluster', row.id);
    tbody.appendChild(tr);
    return tr;
  }

  function find(id) {
    var all = document.querySelectorAll('[data-cluster]');
    for (var i = 0; i < all.length; i++) {
      if (all[i].getAttribute('data-cluster') === id) return all[i];
    }
    return null;
  }

  function apply(row) {
    var el = find(row.id);
    if (!el) {
      if (!tbody) return;
      el = newRow(row);
    }
    el.className = 'v-' + row.verdict + (row.stale ? ' stale' : '');
    el.setAttribute('data-stale-after', row.stale_after_ms);
    var badge = field(el, 'verdict');
    if (badge) badge.textContent = (SYMBOLS[row.verdict] || '?') + ' ' + row.verdict;
    setReasons(el, row);
    var collector = field(el, 'collector');
    if (collector) collector.textContent = row.collector || 'this host';
    var time = field(el, 'last');
    if (time) {
      if (row.last_report_at) {
        time.setAttribute('datetime', row.last_report_at);
        time.setAttribute('title', row.last_report_at);
        time.textContent = ago(Date.now() - row.last_report_ms);
      } else {
        time.textContent = 'no report yet';
      }
    }
    var spark = el.querySelector('svg.spark');
    if (spark) {
      spark.setAttribute('aria-label', row.spark.label);
      spark.firstChild.setAttribute('d', row.spark.path);
    }
    if (only && row.id === only) refreshDetail();
    summarize();
  }

  // The cluster page: its nodes and metrics are fetched again, at most every 5 s.
  function refreshDetail() {
    var now = Date.now();
    if (now < refreshAt) return;
    refreshAt = now + 5000;
    fetch(window.location.href, { cache: 'no-store' }).then(function (r) {
      return r.ok ? r.text() : null;
    }).then(function (text) {
      if (!text) return;
      var doc = new DOMParser().parseFromString(text, 'text/html');
      var fresh = doc.getElementById('detail');
      var old = document.getElementById('detail');
      if (fresh && old && !old.contains(document.activeElement)) old.replaceWith(document.importNode(fresh, true));
    }).catch(function () {});
  }

  function summarize() {
    var summary = document.getElementById('summary');
    if (!summary || !tbody) return;
    var counts = {}, n = 0;
    tbody.querySelectorAll('tr[data-cluster]').forEach(function (tr) {
      var v = (tr.className.match(/v-(\w+)/) || [])[1] || 'unknown';
      counts[v] = (counts[v] || 0) + 1;
      n++;
    });
    var parts = ['unhealthy', 'unreachable', 'degraded', 'unknown', 'healthy'].filter(function (v) {
      return counts[v];
    }).map(function (v) { return counts[v] + ' ' + v; });
    summary.textContent = n + (n === 1 ? ' cluster' : ' clusters') + (parts.length ? ': ' + parts.join(', ') : '');
  }

  function tick() {
    document.querySelectorAll('[data-cluster]').forEach(function (el) {
      var time = field(el, 'last');
      var at = time && Date.parse(time.getAttribute('datetime') || '');
      if (!at) return;
      var age = Date.now() - at;
      time.textContent = ago(age);
      var after = Number(el.getAttribute('data-stale-after')) || Infinity;
      el.classList.toggle('stale', age > after);
    });
  }

  if (!window.EventSource) return;
  var url = root + 'events' + (only ? '?cluster=' + encodeURIComponent(only) : '');
  var events = new EventSource(url);
  live.textContent = 'connecting…';
  events.addEventListener('open', function () { live.textContent = '● live: updates as reports arrive'; });
  events.addEventListener('error', function () { live.textContent = 'connection lost: reconnecting…'; });
  events.addEventListener('cluster', function (e) {
    try { apply(JSON.parse(e.data)); } catch (err) { /* a malformed event changes nothing */ }
  });
  setInterval(tick, 1000);
})();
