// SPDX-License-Identifier: GPL-2.0-or-later
// A virtualised, sortable table: only the rows in view are in the DOM,
// so ten thousand sessions render as fast as thirty.  Rows have a fixed
// height; columns are {id, title, render(row) -> string, sort(row) -> value, num}.

import { el } from "./util.js";

const ROW_HEIGHT = 28;
const OVERSCAN = 10;

export class VirtualTable {
    constructor(id, columns, onSelect) {
        this.columns = columns;
        this.onSelect = onSelect;
        this.rows = [];
        this.sortBy = null;
        this.sortDesc = false;
        this.selected = null;
        this.key = row => row.id;
        const grid = columns.map(c => c.width || "1fr").join(" ");
        this.head = el("div", { class: "vt-head vt-row", style: { gridTemplateColumns: grid } },
                       columns.map(c => el("div", {
                           class: c.num ? "vt-cell num" : "vt-cell", role: "columnheader", "data-col": c.id,
                           onclick: () => this.sort(c.id)
                       }, c.title)));
        this.spacer = el("div", { class: "vt-spacer" });
        this.viewport = el("div", { class: "vt-viewport", onscroll: () => this.schedule() }, this.spacer);
        this.grid = grid;
        this.node = el("div", { class: "vtable", id, role: "table" }, this.head, this.viewport);
        this.frame = null;
    }

    setRows(rows) {
        this.rows = rows;
        this.applySort();
        this.paint();
    }

    sort(col) {
        this.sortDesc = this.sortBy === col ? !this.sortDesc : false;
        this.sortBy = col;
        for (const h of this.head.children)
            h.setAttribute("aria-sort", h.dataset.col === col ? (this.sortDesc ? "descending" : "ascending") : "none");
        this.applySort();
        this.paint();
    }

    applySort() {
        const c = this.columns.find(c => c.id === this.sortBy);
        if (!c)
            return;
        const val = c.sort || c.render;
        const sign = this.sortDesc ? -1 : 1;
        this.rows.sort((a, b) => {
            const x = val(a);
            const y = val(b);
            return sign * (x < y ? -1 : x > y ? 1 : 0);
        });
    }

    schedule() {
        if (this.frame === null)
            this.frame = window.requestAnimationFrame(() => { this.frame = null; this.paint() });
    }

    // Draws the rows in view (and a few around them).
    paint() {
        this.spacer.style.height = (this.rows.length * ROW_HEIGHT) + "px";
        const top = this.viewport.scrollTop;
        const first = Math.max(0, Math.floor(top / ROW_HEIGHT) - OVERSCAN);
        const count = Math.ceil((this.viewport.clientHeight || 600) / ROW_HEIGHT) + 2 * OVERSCAN;
        const rows = this.rows.slice(first, first + count);
        this.spacer.replaceChildren(...rows.map((r, i) => this.rowNode(r, first + i)));
    }

    rowNode(row, index) {
        const key = this.key(row);
        return el("div", {
            class: key === this.selected ? "vt-row vt-body selected" : "vt-row vt-body",
            role: "row", "data-key": String(key),
            style: { top: (index * ROW_HEIGHT) + "px", gridTemplateColumns: this.grid },
            onclick: () => { this.selected = key; this.paint(); this.onSelect(row) }
        }, this.columns.map(c => el("div", { class: c.num ? "vt-cell num" : "vt-cell", "data-col": c.id }, c.render(row))));
    }
}
