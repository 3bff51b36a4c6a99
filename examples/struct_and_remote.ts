/**
 * Struct and array per-CPU variables, live views, and remote references:
 *
 *     deno run examples/struct_and_remote.ts
 *
 * Each CPU counts its own interrupts in a per-CPU `IrqStats` struct without
 * any locking, because no other CPU writes its copy. A monitoring CPU then
 * reads every CPU's copy through `remoteRefRaw(cpu)` to total them up, the way
 * Linux's `percpu_counter_sum` folds per-CPU deltas. Shown along the way:
 *
 * - `withCurrent(f)` hands `f` a mutable reference to this CPU's copy;
 * - a struct ref's `value` is a *live view*: `ref.value.irqs += 1n` writes
 *   straight into simulated memory, nested arrays included;
 * - assigning a whole value is checked first, so a bad value writes nothing;
 * - `remotePtr(cpu)` addresses are one 64-byte-aligned stride apart.
 *
 * @module
 */

import { array, createPercpu, struct, u32, u64, u8, usize } from "../mod.ts";

const p = createPercpu({ arch: "riscv64" });

// #[def_percpu] static CPU_ID: usize = 0;
const CPU_ID = p.defPercpu("CPU_ID", usize, 0);

// #[def_percpu] static IRQ_STATS: IrqStats = IrqStats { irqs: 0, last_vector: 0, per_line: [0; 4] };
const IrqStats = struct({ irqs: u64, last_vector: u32, per_line: array(u8, 4) });
const IRQ_STATS = p.defPercpu("IRQ_STATS", IrqStats, {
  irqs: 0n,
  last_vector: 0,
  per_line: [0, 0, 0, 0],
});

const cpus = p.init(4);
const stride = p.percpuAreaLayoutExpected(1).size;
console.log(`${cpus} CPUs on ${p.arch}; area size ${p.percpuAreaSize()} bytes, stride ${stride}`);
console.log(`IRQ_STATS is at offset ${IRQ_STATS.offset()} in every area\n`);

// Each CPU boots, points its register at its own area, and handles some IRQs.
for (let cpu = 0; cpu < cpus; cpu++) {
  p.initPercpuReg(cpu);
  CPU_ID.writeCurrent(cpu);
  for (let n = 0; n <= cpu * 2; n++) {
    const line = (cpu + n) % 4;
    IRQ_STATS.withCurrent((stats) => {
      // `stats.value` is a live view: each assignment writes this CPU's copy.
      stats.value.irqs += 1n;
      stats.value.last_vector = 32 + line;
      stats.value.per_line[line]++;
    });
  }
}

// The last CPU to boot is still current; its copy through a mutable ref:
const mine = IRQ_STATS.currentRefMutRaw();
console.log(`current CPU ${CPU_ID.readCurrent()} at ${hex(mine.address)}:`, mine.value);

// A whole-struct assignment is validated before anything is written.
try {
  mine.value = { irqs: 0n, last_vector: -1, per_line: [0, 0, 0, 0] };
} catch (e) {
  console.log(`rejected: ${(e as Error).message}`);
}
console.log(`unchanged: irqs = ${mine.value.irqs}\n`);

// A monitoring CPU reads every CPU's copy remotely.
console.log("cpu  CPU_ID  address      irqs  last_vector  per_line");
let total = 0n;
for (let cpu = 0; cpu < cpus; cpu++) {
  const stats = IRQ_STATS.remoteRefRaw(cpu).value;
  total += stats.irqs;
  console.log(
    `${String(cpu).padEnd(5)}${String(CPU_ID.remoteRefRaw(cpu).value).padEnd(8)}` +
      `${hex(IRQ_STATS.remotePtr(cpu)).padEnd(13)}${String(stats.irqs).padEnd(6)}` +
      `${String(stats.last_vector).padEnd(13)}[${[...stats.per_line].join(", ")}]`,
  );
}
console.log(`total IRQs across CPUs: ${total}`);

// Remote copies are one stride apart, so no two CPUs share a cache line.
const gap = IRQ_STATS.remotePtr(1) - IRQ_STATS.remotePtr(0);
console.log(`\nremotePtr(1) - remotePtr(0) = ${gap} (the stride, a multiple of 64)`);

// Read-only refs refuse writes; mutable remote refs (e.g. from an IPI handler) may write.
try {
  (IRQ_STATS.remoteRefRaw(2).value as { irqs: bigint }).irqs = 0n;
} catch (e) {
  console.log(`rejected: ${(e as Error).message}`);
}
IRQ_STATS.remoteRefMutRaw(2).value.irqs = 0n;
console.log(`after a remote reset, CPU 2 reports ${IRQ_STATS.remoteRefRaw(2).value.irqs} IRQs`);

function hex(address: number): string {
  return `0x${address.toString(16)}`;
}
