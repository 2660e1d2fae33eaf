// Drives dagrad-explain's HTML page in headless Chromium (playwright-core) and checks it
// against what the C++ printed: every value after stepping the forward pass, every adjoint
// after stepping the backward pass of each output, every tangent of each forward-mode run.
// Also: no script errors, no network request, and a screenshot.
//   node explain_page.js PAGE.html CLI_OUTPUT.txt SCREENSHOT.png
// Prints "browser tests: N passed, M failed".
const fs = require("fs");
const { chromium } = require("playwright-core");

const [page_path, cli_path, shot_path] = process.argv.slice(2);
const cli = fs.readFileSync(cli_path, "utf8").split("\n");
let passed = 0, failed = 0;
function check(ok, what) {
  if (ok) { passed++; } else { failed++; console.log("FAILED: " + what); }
}

// The C++ tables: "  <label>  <value>  [<column>]" rows under a header "  step  value ...".
// A label may hold spaces, so rows are split on runs of 2+ spaces from the right.
function tables() {
  const out = [];
  let cur = null;
  for (const line of cli) {
    if (/^  step\s+value/.test(line)) { cur = { title: out.length ? out[out.length - 1].next : "", rows: [] }; out.push(cur); continue; }
    if (cur && /^  \S/.test(line) && !/^  (note|\S+\s+adjoint\s)/.test(line)) {
      const parts = line.trim().split(/\s{2,}/);
      if (parts.length >= 2) { cur.rows.push(parts); continue; }
    }
    if (cur && !/^  \S/.test(line)) cur = null;
  }
  return out;
}
// A page attribute ("v0,v1,...", full precision) against a C++ cell ("1.5", "[1, 2]" or
// "(2, 2) [1, 2, 3, 4]", 10 significant digits, at most 8 values shown).
const close = (attr, cell) => {
  if (attr === null) return false;
  const page = attr.split(",");
  const shown = cell.replace(/^\([^)]*\)\s*/, "").replace(/[\[\]]/g, "").split(", ");
  if (shown[shown.length - 1] === "...") shown.pop(); else if (shown.length !== page.length) return false;
  return shown.every((c, i) => {
    if (c === "nan" || page[i] === "nan") return c === page[i];
    const x = Number(page[i]), y = Number(c);
    return Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x), Math.abs(y));
  });
};

(async () => {
  const all = tables();
  const values = all[0].rows;                       // section 1
  const browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
                                          args: ["--no-sandbox"] });
  const page = await browser.newPage({ viewport: { width: 1300, height: 760 } });
  const errors = [], requests = [];
  page.on("pageerror", e => errors.push(String(e)));
  page.on("console", m => { if (m.type() === "error") errors.push(m.text()); });
  page.on("request", r => { if (!r.url().startsWith("file://")) requests.push(r.url()); });
  await page.goto("file://" + require("path").resolve(page_path));

  // The nodes in tape order (leaves, then ops by creation number), with one attribute.
  const nodes = async attr => {
    const all = await page.$$eval("g.node", (gs, attr) =>
        gs.map(g => ({ label: g.querySelector("text").textContent, id: g.dataset.id,
                       v: g.getAttribute(attr) })), attr);
    const key = n => (n.id.startsWith("leaf") ? 0 : 1e9) + Number(n.id.replace(/\D/g, ""));
    return all.sort((a, b) => key(a) - key(b));
  };
  // The node of a C++ row: the k-th node with the row's label for the k-th row with it (the
  // tape repeats sub-expressions, e.g. exp(w1) twice). Outputs are "f1 = expr" in C++, "f1"
  // on the page.
  const match = (row, got, rows) => {
    const name = s => (s.includes(" = ") ? s.split(" = ")[0] : s);
    const k = rows.slice(0, rows.indexOf(row)).filter(r => name(r[0]) === name(row[0])).length;
    const m = got.filter(n => n.label === name(row[0]));
    return m.length > k ? [m[k]] : [];
  };

  // ---- forward pass: step through every node, then every C++ value is on the page
  const count = await page.evaluate(() => JSON.parse(document.getElementById("data").textContent).forward.length);
  for (let i = 0; i < count; ++i) await page.click("#fstep");
  const status = await page.textContent("#status");
  check(status.includes(`${count} of ${count}`), "forward status after every step: " + status);
  let got = await nodes("data-value");
  for (const row of values) {
    const m = match(row, got, values);
    check(m.length > 0 && m.every(n => close(n.v, row[1])), `value of ${row[0]}: page ${m.map(n => n.v)} vs C++ ${row[1]}`);
  }

  // ---- backward pass of each output, step by step
  const runs = await page.$$eval("#run option", os => os.map(o => o.textContent));
  const adjoint_tables = all.slice(all.length - runs.length);
  for (let r = 0; r < runs.length; ++r) {
    await page.selectOption("#run", String(r));
    const steps = await page.evaluate(r => JSON.parse(document.getElementById("data").textContent).backward[r].order.length, r);
    let pending_ok = true;
    for (let i = 0; i < steps; ++i) {
      await page.click("#bstep");
      // The node about to run next waits for no consumer.
      const ready = await page.$$eval("g.node.ready", gs => gs.map(g => g.getAttribute("data-pending")));
      if (i + 1 < steps && !(ready.length === 1 && ready[0] === "0")) pending_ok = false;
      if (r === 0 && i === Math.floor(steps / 2)) {  // mid-way: partial sums, waiting counts
        await page.click("g.node.ready");
        await page.screenshot({ path: shot_path });
      }
    }
    check(pending_ok, `backward ${runs[r]}: each next node has no pending consumer`);
    got = await nodes("data-adjoint");
    for (const row of adjoint_tables[r].rows) {
      const m = match(row, got, adjoint_tables[r].rows);
      if (row[2] === "0 (not reached)") check(m.every(n => n.v === null), `${row[0]} has no adjoint for ${runs[r]}`);
      else check(m.length > 0 && m.every(n => close(n.v, row[2])), `adjoint of ${row[0]} for ${runs[r]}: page ${m.map(n => n.v)} vs C++ ${row[2]}`);
    }
  }

  // ---- forward mode, each direction
  const dirs = await page.$$eval("#dir option", os => os.map(o => o.textContent));
  const tangent_tables = all.slice(1, 1 + dirs.length);
  for (let d = 0; d < dirs.length; ++d) {
    await page.selectOption("#dir", String(d));
    got = await nodes("data-tangent");
    for (const row of tangent_tables[d].rows) {
      const m = match(row, got, tangent_tables[d].rows);
      check(m.length > 0 && m.every(n => close(n.v, row[2])), `tangent of ${row[0]} (${dirs[d]}): page ${m.map(n => n.v)} vs C++ ${row[2]}`);
    }
  }

  // ---- clicking a node shows its details; a leaf's include its numerical check (float64:
  // central differences with h = cbrt(eps) are good to ~1e-9 here)
  await page.click("g.node.op");
  const side = await page.textContent("#side");
  check(side.includes("local rule:") && side.includes("value:"), "node details: " + side.slice(0, 80));
  await page.click("g.node.leaf");
  const leaf = await page.textContent("#side");
  const rels = [...leaf.matchAll(/rel\. error (\S+)/g)].map(m => Number(m[1]));
  check(rels.length > 0 && rels.every(r => r < 1e-7), "leaf numerical check: " + rels);

  check(errors.length === 0, "script errors: " + errors.join("; "));
  check(requests.length === 0, "network requests: " + requests.join(", "));
  await browser.close();
  console.log(`browser tests: ${passed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})().catch(e => { console.log("FAILED: " + e); console.log(`browser tests: ${passed} passed, ${failed + 1} failed`); process.exit(1); });
