/**
 * The linker script snippet each feature set needs, the section symbols it
 * defines, and how the area count, size and bases follow from them:
 *
 *     deno run examples/linker_script.ts
 *
 * The crate computes everything from four linker symbols:
 *
 * - area size   = `_percpu_load_end − _percpu_load_start` (unrounded)
 * - stride      = area size rounded up to 64 bytes (a cache line)
 * - area count  = `(_percpu_end − _percpu_start) / stride` (the script's `CPU_NUM`)
 * - area base i = `_percpu_start + i × stride` after `init_in_place()`
 *
 * The default section is linked at VMA 0, so a variable's symbol address is
 * its offset; with `non-zero-vma` the offset is the symbol minus
 * `_percpu_load_start`; with `sp-naive` there is no section at all.
 *
 * @module
 */

import { createPercpu, type Feature, u16, u64, u8 } from "../mod.ts";

const CPU_NUM = 4;

for (const features of [[], ["non-zero-vma"], ["sp-naive"]] as Feature[][]) {
  const p = createPercpu({ arch: "riscv64", features, cpuNum: CPU_NUM });
  const FLAG = p.defPercpu("FLAG", u8, 1);
  const IRQS = p.defPercpu("IRQS", u64, 0n);
  const DEPTH = p.defPercpu("DEPTH", u16, 0);

  console.log(`═══ ${features.length ? features.join(" + ") : "default"} ${"═".repeat(60)}`);
  console.log(p.linkerScript());

  const s = p.symbols();
  console.log("symbols():");
  for (const [name, value] of Object.entries(s)) {
    console.log(`  ${name.padEnd(19)} = ${hex(value)}`);
  }

  p.initInPlace();
  if (p.hasFeature("sp-naive")) {
    // No section: the crate fixes these instead of deriving them.
    console.log("fixed by sp-naive:");
    check("area size", 0, p.percpuAreaSize(), "percpuAreaSize()");
    check("area num", 1, p.percpuAreaNum(), "percpuAreaNum()");
    check("base(0)", 0, p.percpuAreaBase(0), "percpuAreaBase(0)", hex);
    console.log("variables (plain globals: offset() is the address):");
  } else {
    const size = s._percpu_load_end - s._percpu_load_start;
    const stride = Math.ceil(size / 64) * 64;
    console.log("derived from the symbols:");
    check("area size", size, p.percpuAreaSize(), "percpuAreaSize()");
    check("stride", stride, p.percpuAreaLayoutExpected(1).size, "percpuAreaLayoutExpected(1).size");
    check(
      "area num",
      (s._percpu_end - s._percpu_start) / stride,
      p.percpuAreaNum(),
      "percpuAreaNum()",
    );
    for (let cpu = 0; cpu < p.percpuAreaNum(); cpu++) {
      const base = s._percpu_start + cpu * stride;
      check(`base(${cpu})`, base, p.percpuAreaBase(cpu), `percpuAreaBase(${cpu})`, hex);
    }
    console.log("variables (offset = symbol VMA − _percpu_load_start):");
  }
  for (const v of [FLAG, IRQS, DEPTH]) {
    console.log(
      `  ${v.symbol.padEnd(16)} VMA ${hex(v.symbolVma()).padEnd(11)} offset ${hex(v.offset())}`,
    );
  }
  console.log();
}

function check(
  label: string,
  derived: number,
  reported: number,
  api: string,
  show: (n: number) => string = String,
): void {
  const mark = derived === reported ? "✓" : "✗ MISMATCH";
  console.log(`  ${label.padEnd(10)} = ${show(derived).padEnd(11)} ${mark} ${api}`);
  if (derived !== reported) throw new Error(`${api} is ${reported}, expected ${derived}`);
}

function hex(n: number): string {
  return `0x${n.toString(16)}`;
}
