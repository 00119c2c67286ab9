(function () {
  const data = JSON.parse(document.getElementById("chart-data").textContent);
  const money = (v) => "$" + Number(v).toLocaleString(undefined, { maximumFractionDigits: 0 });
  new Chart(document.getElementById("pyramid-chart"), {
    type: "bar",
    data: { labels: data.tiers.labels, datasets: [{ label: "Active partners", data: data.tiers.counts, backgroundColor: "#4b5d78" }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } } },
  });
  new Chart(document.getElementById("revenue-chart"), {
    type: "bar",
    data: { labels: data.revenue.labels, datasets: [{ label: "Partner revenue", data: data.revenue.values, backgroundColor: "#198754" }] },
    options: { plugins: { legend: { display: false }, tooltip: { callbacks: { label: (c) => money(c.raw) } } },
               scales: { y: { ticks: { callback: money } } } },
  });
})();
