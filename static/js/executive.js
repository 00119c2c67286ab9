(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const inCurrency = new Intl.NumberFormat(undefined, {
    style: "currency",
    currency: data.currency,
    maximumFractionDigits: 0,
  });
  const money = (v) => inCurrency.format(Number(v));
  Chart.defaults.maintainAspectRatio = false;
  const pct = (v) => (v === null || v === undefined ? "—" : (Number(v) * 100).toFixed(0) + "%");
  new Chart(document.getElementById("revenue-chart"), {
    type: "bar",
    data: {
      labels: data.revenue.map((r) => r.label),
      datasets: [{ label: data.labels.credit, data: data.revenue.map((r) => r.credit), backgroundColor: "#198754" }],
    },
    options: {
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => money(c.raw) } } },
      scales: { y: { ticks: { callback: money } } },
    },
  });
  const health = document.getElementById("health-chart");
  if (health) new Chart(health, {
    type: "doughnut",
    data: {
      labels: data.labels.health,
      datasets: [{ data: [data.health.on_target, data.health.at_risk, data.health.off_target], backgroundColor: ["#198754", "#ffc107", "#dc3545"] }],
    },
    options: { plugins: { legend: { position: "right" } } },
  });
  new Chart(document.getElementById("tier-chart"), {
    type: "bar",
    data: {
      labels: data.tiers.map((t) => t.name),
      datasets: [{ label: data.labels.attainment, data: data.tiers.map((t) => (t.attainment === null ? 0 : Number(t.attainment))), backgroundColor: "#4b5d78" }],
    },
    options: {
      indexAxis: "y",
      plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => pct(c.raw) } } },
      scales: { x: { ticks: { callback: pct } } },
    },
  });
})();
