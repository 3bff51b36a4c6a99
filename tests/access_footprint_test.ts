// What each simulated instruction touches: for every arch, feature set,
// scalar kind and access, each step of the machine reports exactly the bytes
// its instruction reads and writes (the footprint the schedule explorer's
// reduction and the playground rely on), and the access leaves the value a
// plain computation predicts. ARM's ldrd/strd move 8 bytes at once, RV32's
// 64-bit halves 4 each.

import assert from "node:assert/strict";
import {
  type Arch,
  ARCHES,
  createPercpu,
  type Feature,
  type ScalarKind,
  type ScalarPercpuVar,
  sizeOf,
} from "../mod.ts";
import { accessProgram, type Instruction, Op } from "../lib/isa/mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { Machine, type TaskContext } from "../sched/mod.ts";
import { machinePort, StepRecord } from "../sched/runtime/_port.ts";
import { Scripted } from "./fixtures/scripted_decisions.ts";

const READS = new Set<number>([Op.Load, Op.LoadPreg, Op.LoadPair, Op.AddMem, Op.AddMemPreg]);
const WRITES = new Set<number>([Op.Store, Op.StorePreg, Op.StorePair, Op.AddMem, Op.AddMemPreg]);

/** A value of each kind, and a delta, that change every byte they can. */
function sample(kind: ScalarKind, pointerBytes: number): { initial: unknown; delta: unknown } {
  switch (kind) {
    case "bool":
      return { initial: true, delta: true };
    case "f32":
      return { initial: 1.5, delta: 2.25 };
    case "f64":
      return { initial: 1.25, delta: 1e10 };
    case "u64":
      return { initial: 0xffff_ffffn, delta: 0x1_0000_0003n };
    case "i64":
      return { initial: -5n, delta: 0x1_0000_0000n };
    case "usize":
      return { initial: pointerBytes === 4 ? 0xffff_fff0 : 0xffff_ffff, delta: 17 };
    case "isize":
      return { initial: -70000, delta: 3 };
    case "u8":
      return { initial: 200, delta: 100 };
    case "i8":
      return { initial: -100, delta: 27 };
    case "u16":
      return { initial: 0xfff0, delta: 0x20 };
    case "i16":
      return { initial: -30000, delta: 1000 };
    case "u32":
      return { initial: 0xffff_fff0, delta: 0x21 };
    case "i32":
      return { initial: -1, delta: 0x7fff_ffff };
  }
}

type Access = "read" | "write" | "add" | "withCurrent" | "remoteRead" | "remoteWrite";
const ACCESSES: Access[] = ["read", "write", "add", "withCurrent", "remoteRead", "remoteWrite"];

function programOf(x: ScalarPercpuVar, access: Access, cpu: number): readonly Instruction[] {
  const op = {
    read: "read",
    write: "write",
    add: "add",
    withCurrent: "with-current",
    remoteRead: "remote-read",
    remoteWrite: "remote-write",
  } as const;
  return accessProgram(x, op[access], { cpu }).instructions;
}

/** Runs one access on CPU 0 of a two-CPU machine, one step at a time. */
function footprints(arch: Arch, features: Feature[], kind: ScalarKind, access: Access) {
  const percpu = createPercpu({ arch, features });
  const { initial, delta } = sample(kind, percpu.pointerBytes);
  percpu.defPercpu("PAD", SCALAR_TYPES.u8, 0);
  const x = percpu.defPercpu("X", SCALAR_TYPES[kind], initial as never) as ScalarPercpuVar;
  // sp-naive has one CPU: its "remote" accesses reach the one global.
  const cpus = percpu.hasFeature("sp-naive") ? 1 : 2;
  const remote = cpus - 1;
  percpu.init(cpus);
  let result: unknown;
  const machine = new Machine({ percpu, cpus, decisions: new Scripted() });
  machine.spawn(function* (ctx: TaskContext) {
    const v = x as ScalarPercpuVar<ScalarKind>;
    if (access === "read") result = yield* ctx.read(v);
    else if (access === "write") yield* ctx.write(v, delta as never);
    else if (access === "add") yield* ctx.add(v, delta as never);
    else if (access === "withCurrent") yield* ctx.withCurrent(v, () => delta as never);
    else if (access === "remoteRead") result = yield* ctx.remoteRead(v, remote);
    else yield* ctx.remoteWrite(v, remote, delta as never);
  });
  const port = machinePort(machine);
  const record = new StepRecord(cpus);
  const steps: { text: string; read: [number, number]; write: [number, number] }[] = [];
  while (port.live > 0) {
    port.step(0, record);
    if (record.executed) {
      steps.push({
        text: record.instruction,
        read: [record.readAddress, record.readSize],
        write: [record.writeAddress, record.writeSize],
      });
    }
    port.endCycle(null);
  }
  assert.equal(port.stats().stopReason, "completed");
  return { percpu, x, steps, result, initial, delta, remote };
}

Deno.test("every step reports the bytes its instruction reads and writes", async (t) => {
  const featureSets: Feature[][] = [[], ["custom-base"], ["sp-naive"], ["non-zero-vma", "preempt"]];
  for (const arch of ARCHES) {
    for (const features of featureSets) {
      await t.step([arch, ...features].join(" + "), () => {
        for (const kind of Object.keys(SCALAR_TYPES) as ScalarKind[]) {
          for (const access of ACCESSES) {
            if (kind === "bool" && access === "add") continue;
            const label = `${kind} ${access}`;
            const { percpu, x, steps, remote } = footprints(arch, features, kind, access);
            const program = programOf(x, access, remote);
            assert.deepEqual(steps.map((s) => s.text), program.map((i) => i.text), label);
            const address = x.remotePtr(access.startsWith("remote") ? remote : 0);
            const size = sizeOf(SCALAR_TYPES[kind], arch);
            const halves = arch === "riscv32" && (kind === "u64" || kind === "i64");
            program.forEach((insn, i) => {
              const { read, write } = steps[i];
              const what = `${label}: ${insn.text}`;
              if (!insn.accessesMemory) {
                assert.deepEqual([read[1], write[1]], [0, 0], what);
                return;
              }
              const expected = halves ? [[address, 4], [address + 4, 4]] : [[address, size]];
              const inX = ([at, bytes]: [number, number]) =>
                bytes > 0 && at >= address && at < address + size;
              for (const [footprint, kinds] of [[read, READS], [write, WRITES]] as const) {
                if (!kinds.has(insn.op)) {
                  assert.equal(footprint[1], 0, what);
                } else if (inX(footprint)) {
                  assert.ok(
                    expected.some((e) => e[0] === footprint[0] && e[1] === footprint[1]),
                    what,
                  );
                } else {
                  // A pointer on the way (x86_64's SELF_PTR): never X's bytes.
                  assert.equal(footprint[1], percpu.pointerBytes, what);
                  assert.ok(
                    footprint[0] + footprint[1] <= address || footprint[0] >= address + size,
                  );
                }
              }
            });
            const touched = steps.flatMap((s) => [s.read, s.write]).filter((f) => f[1] > 0)
              .filter((f) => f[0] >= address && f[0] < address + size)
              .reduce((n, f) => n + f[1], 0);
            // A read-modify-write reads and writes every byte (x86_64's add in
            // memory does both in one instruction); the others move them once.
            const moves = access === "add" || access === "withCurrent" ? 2 * size : size;
            assert.equal(touched, moves, `${label}: bytes of X moved`);
          }
        }
      });
    }
  }
});

Deno.test("the accesses compute what plain arithmetic predicts", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      for (const kind of Object.keys(SCALAR_TYPES) as ScalarKind[]) {
        for (const access of ACCESSES) {
          if (kind === "bool" && access === "add") continue;
          const label = `${arch} ${kind} ${access}`;
          const { percpu, x, result, initial, delta } = footprints(arch, [], kind, access);
          const cpu0 = x.remoteRefRaw(0).value;
          const cpu1 = x.remoteRefRaw(1).value;
          if (access === "read" || access === "remoteRead") {
            assert.deepEqual(result, initial, label);
            assert.deepEqual([cpu0, cpu1], [initial, initial], label);
          } else if (access === "add") {
            // The same add by the core's own accessor, on CPU 1's copy.
            assert.deepEqual(cpu1, initial, label);
            percpu.initPercpuReg(1);
            x.addCurrent(delta as never);
            assert.deepEqual(x.remoteRefRaw(1).value, cpu0, label);
            assert.notDeepEqual(cpu0, initial, `${label}: the add changed the value`);
          } else {
            const changed = access === "remoteWrite" ? cpu1 : cpu0;
            const kept = access === "remoteWrite" ? cpu0 : cpu1;
            assert.deepEqual(changed, delta, label);
            assert.deepEqual(kept, initial, label);
          }
        }
      }
    });
  }
});
