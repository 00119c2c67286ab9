#!/usr/bin/env bash
# Refresh static/vendor/ from the npm registry (versions pinned here and in its README).
# Source maps come along where a file names one: collectstatic (manifest storage) fails
# on a sourceMappingURL that points at a missing file.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm init -y >/dev/null && npm install --no-audit --no-fund --ignore-scripts \
  bootstrap@5.3.9 bootstrap-icons@1.13.2 htmx.org@2.0.11 chart.js@4.6.1 swagger-ui-dist@5.35.0 >/dev/null)
m=$tmp/node_modules
v=static/vendor
mkdir -p $v/bootstrap $v/bootstrap-icons/fonts $v/htmx $v/chartjs $v/swagger-ui
cp $m/bootstrap/dist/css/bootstrap.min.css* $m/bootstrap/dist/js/bootstrap.bundle.min.js* $m/bootstrap/LICENSE $v/bootstrap/
cp $m/bootstrap-icons/font/bootstrap-icons.min.css $m/bootstrap-icons/LICENSE $v/bootstrap-icons/
cp $m/bootstrap-icons/font/fonts/* $v/bootstrap-icons/fonts/
cp $m/htmx.org/dist/htmx.min.js $m/htmx.org/LICENSE $v/htmx/
cp $m/chart.js/dist/chart.umd.min.js* $m/chart.js/LICENSE.md $v/chartjs/
cp $m/swagger-ui-dist/{swagger-ui.css,swagger-ui.css.map,swagger-ui-bundle.js,swagger-ui-standalone-preset.js,favicon-32x32.png,LICENSE} $v/swagger-ui/
echo "static/vendor refreshed"
