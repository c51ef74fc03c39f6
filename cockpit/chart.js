// SPDX-License-Identifier: GPL-2.0-or-later
// A small live line chart (SVG) of the last points of one or two series.

import { el } from "./util.js";

const NS = "http://www.w3.org/2000/svg";
const W = 600;
const H = 120;

export class Chart {
    constructor(id, series, format) {
        this.series = series; // [{name, class}]
        this.format = format;
        this.points = series.map(() => []);
        this.max = 60;
        this.svg = document.createElementNS(NS, "svg");
        this.svg.setAttribute("viewBox", `0 0 ${W} ${H}`);
        this.svg.setAttribute("class", "chart");
        this.legend = el("div", { class: "chart-legend" });
        this.node = el("figure", { id, class: "chart-box" }, this.svg, this.legend);
    }

    push(values) {
        values.forEach((v, i) => {
            this.points[i].push(v);
            if (this.points[i].length > this.max)
                this.points[i].shift();
        });
        this.draw();
    }

    // Each series on its own scale (bytes and sessions do not share
    // one), the newest point at the right edge.
    draw() {
        const step = W / (this.max - 1);
        const tops = this.points.map(pts => Math.max(0, ...pts));
        this.node.dataset.max = JSON.stringify(tops);
        this.svg.replaceChildren(...this.points.map((pts, i) => {
            const line = document.createElementNS(NS, "polyline");
            const top = Math.max(1e-9, tops[i]);
            const x0 = W - (pts.length - 1) * step;
            line.setAttribute("points", pts.map((v, j) => `${(x0 + j * step).toFixed(1)},${(H - 4 - (H - 8) * v / top).toFixed(1)}`).join(" "));
            line.setAttribute("class", this.series[i].class);
            return line;
        }));
        this.legend.replaceChildren(...this.series.map((s, i) =>
            el("span", { class: s.class }, `${s.name}: ${this.format[i](this.points[i].at(-1) || 0)}`)));
    }
}
