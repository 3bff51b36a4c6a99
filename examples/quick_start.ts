/**
 * The crate's quick start, line for line in TypeScript:
 *
 *     deno run examples/quick_start.ts
 *
 * @module
 */

import { defPercpu, init, initPercpuReg, readPercpuReg, usize } from "../mod.ts";

// #[percpu::def_percpu] static CPU_COUNTER: usize = 0;
const CPU_COUNTER = defPercpu("CPU_COUNTER", usize, 0);

// percpu::init(): four per-CPU areas, each a copy of the .percpu template.
const areas = init(4);

// percpu::init_percpu_reg(0): this CPU's GS_BASE points at area 0.
initPercpuReg(0);

console.log(`areas: ${areas}, GS_BASE = 0x${readPercpuReg().toString(16)}`);
console.log(`Initial value: ${CPU_COUNTER.readCurrent()}`); // 0
CPU_COUNTER.writeCurrent(42);
console.log(`Updated value: ${CPU_COUNTER.readCurrent()}`); // 42

// Every CPU has its own copy: CPU 1's is untouched.
console.log(`CPU 1's value: ${CPU_COUNTER.remoteRefRaw(1).value}`); // 0

// What the read compiles to on x86_64: one gs-relative instruction.
console.log(`read_current() = ${CPU_COUNTER.disassemble("read").join("; ")}`);
