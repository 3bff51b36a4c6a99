// The access tables: the exact instruction sequences of a
// u64 read, the width-specific forms, and — by executing each table's
// register-transfer meaning with a small interpreter kept here — proof that
// what `disassemble()` prints does what the fast-path accessors do.

import assert from "node:assert/strict";
import {
  type AccessOp,
  type Arch,
  ARCHES,
  array,
  createPercpu,
  f32,
  type Feature,
  type Percpu,
  type ScalarKind,
  type ScalarPercpuVar,
  sizeOf,
  struct,
  u16,
  u32,
  u64,
  u8,
  usize,
} from "../mod.ts";
import { type AccessProgram, type Instruction, Op, REG_COUNT } from "../lib/isa/mod.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { accessProgram, archTable } from "../lib/isa/mod.ts";
import { portOf } from "../lib/_port.ts";

const SYSTEM_REGS = ["GS_BASE", "TPIDR_EL1", "TPIDR_EL2", "gp", "$r21", "TPIDRPRW"] as const;

function u64Read(arch: Arch, features: Feature[] = []): string[] {
  const p = createPercpu({ arch, features });
  return p.defPercpu("X", u64, 0n).disassemble("read");
}

Deno.test("a u64 read is the crate's exact sequence on each arch", async (t) => {
  await t.step("x86_64: one gs-relative mov", () => {
    assert.deepEqual(u64Read("x86_64"), ["mov rax, qword ptr gs:[offset __PERCPU_X]"]);
  });
  await t.step("aarch64: through current_ptr with TPIDR_EL1", () => {
    assert.deepEqual(u64Read("aarch64"), [
      "mrs x0, TPIDR_EL1",
      "movz x1, #:abs_g0_nc:__PERCPU_X",
      "add x0, x0, x1",
      "ldr x0, [x0]",
    ]);
  });
  await t.step("aarch64 + arm-el2: the same through TPIDR_EL2", () => {
    assert.deepEqual(u64Read("aarch64", ["arm-el2"]), [
      "mrs x0, TPIDR_EL2",
      "movz x1, #:abs_g0_nc:__PERCPU_X",
      "add x0, x0, x1",
      "ldr x0, [x0]",
    ]);
  });
  await t.step("riscv64: lui, add gp, ld", () => {
    assert.deepEqual(u64Read("riscv64"), [
      "lui a0, %hi(__PERCPU_X)",
      "add a0, a0, gp",
      "ld a0, %lo(__PERCPU_X)(a0)",
    ]);
  });
  await t.step("riscv32: through current_ptr (mv gp, lui, addi, add), then two lw", () => {
    assert.deepEqual(u64Read("riscv32"), [
      "mv a0, gp",
      "lui a1, %hi(__PERCPU_X)",
      "addi a1, a1, %lo(__PERCPU_X)",
      "add a0, a0, a1",
      "lw a1, 4(a0)",
      "lw a0, 0(a0)",
    ]);
  });
  await t.step("loongarch64: lu12i.w, ori, ldx.d with $r21", () => {
    assert.deepEqual(u64Read("loongarch64"), [
      "lu12i.w $a0, %abs_hi20(__PERCPU_X)",
      "ori $a0, $a0, %abs_lo12(__PERCPU_X)",
      "ldx.d $a0, $a0, $r21",
    ]);
  });
  await t.step("arm: through current_ptr like aarch64, reading TPIDRPRW with mrc", () => {
    const p = createPercpu({ arch: "arm" });
    const x = p.defPercpu("X", u64, 0n);
    const read = x.disassemble("read");
    const ptr = x.disassemble("ptr");
    assert.equal(ptr[0], "mrc p15, 0, r0, c13, c0, 4");
    assert.deepEqual(read.slice(0, ptr.length), ptr, "the read starts with current_ptr");
    assert.equal(read.length, ptr.length + 1, "then one load");
    assert.match(read.at(-1)!, /^ldrd? .*\[r0\]$/);
  });
});

Deno.test("the read/write/ptr of every arch use that arch's register", async (t) => {
  const cases: [Arch, Feature[], string][] = [
    ["x86_64", [], "gs:"],
    ["aarch64", [], "TPIDR_EL1"],
    ["aarch64", ["arm-el2"], "TPIDR_EL2"],
    ["riscv64", [], "gp"],
    ["riscv32", [], "gp"],
    ["loongarch64", [], "$r21"],
    ["arm", [], "c13, c0, 4"],
  ];
  for (const [arch, features, register] of cases) {
    await t.step([arch, ...features].join(" + "), () => {
      const p = createPercpu({ arch, features });
      const x = p.defPercpu("X", u32, 0);
      for (const op of ["read", "write", "ptr"] as const) {
        const program = accessProgram(x, op);
        const sampling = program.instructions.filter((i) => i.samplesPercpuReg);
        assert.equal(sampling.length, 1, `${op} samples the register once`);
        assert.ok(sampling[0].text.includes(register), `${op}: ${sampling[0].text}`);
      }
    });
  }
});

Deno.test("width-specific forms", async (t) => {
  const kinds: [ScalarKind, 1 | 2 | 4 | 8][] = [["u8", 1], ["u16", 2], ["u32", 4], ["u64", 8]];
  function listing(arch: Arch, kind: ScalarKind, op: AccessOp): string[] {
    const p = createPercpu({ arch });
    const init = kind === "u64" ? 0n : 0;
    return (p.defPercpu("X", SCALAR_TYPES[kind], init as never) as ScalarPercpuVar).disassemble(op);
  }

  await t.step("x86_64: byte/word/dword/qword ptr", () => {
    const word = { 1: "byte", 2: "word", 4: "dword", 8: "qword" };
    for (const [kind, width] of kinds) {
      for (const op of ["read", "write", "add"] as const) {
        const [only, ...rest] = listing("x86_64", kind, op);
        assert.equal(rest.length, 0, `${kind} ${op} is one instruction`);
        assert.ok(only.includes(`${word[width]} ptr gs:[offset __PERCPU_X]`), only);
      }
    }
  });
  await t.step("riscv64: lbu/lhu/lwu/ld and sb/sh/sw/sd", () => {
    const load = { 1: "lbu", 2: "lhu", 4: "lwu", 8: "ld" };
    const store = { 1: "sb", 2: "sh", 4: "sw", 8: "sd" };
    for (const [kind, width] of kinds) {
      assert.equal(listing("riscv64", kind, "read").at(-1)!.split(" ")[0], load[width], kind);
      assert.equal(listing("riscv64", kind, "write").at(-1)!.split(" ")[0], store[width], kind);
    }
  });
  await t.step("riscv32: lbu/lhu/lw and sb/sh/sw through current_ptr; u64 as two words", () => {
    const load = { 1: "lbu", 2: "lhu", 4: "lw" };
    const store = { 1: "sb", 2: "sh", 4: "sw" };
    for (const [kind, width] of kinds) {
      if (width === 8) continue;
      assert.equal(listing("riscv32", kind, "read").at(-1), `${load[width]} a0, 0(a0)`, kind);
      assert.equal(listing("riscv32", kind, "write").at(-1), `${store[width]} a2, 0(a0)`, kind);
    }
    assert.deepEqual(listing("riscv32", "u64", "read").slice(-2), ["lw a1, 4(a0)", "lw a0, 0(a0)"]);
    assert.deepEqual(listing("riscv32", "u64", "write").slice(-2), [
      "sw a2, 0(a0)",
      "sw a3, 4(a0)",
    ]);
  });
  await t.step("loongarch64: ldx.bu/hu/wu/d and stx.b/h/w/d", () => {
    const load = { 1: "ldx.bu", 2: "ldx.hu", 4: "ldx.wu", 8: "ldx.d" };
    const store = { 1: "stx.b", 2: "stx.h", 4: "stx.w", 8: "stx.d" };
    for (const [kind, width] of kinds) {
      const read = listing("loongarch64", kind, "read").at(-1)!;
      const write = listing("loongarch64", kind, "write").at(-1)!;
      assert.equal(read.split(" ")[0], load[width], kind);
      assert.equal(write.split(" ")[0], store[width], kind);
      assert.ok(read.endsWith("$r21") && write.endsWith("$r21"), "indexed by $r21");
    }
  });
  await t.step("each access moves exactly its type's width", () => {
    for (const arch of ARCHES) {
      const p = createPercpu({ arch });
      for (const [kind, type] of Object.entries(SCALAR_TYPES)) {
        const x = p.defPercpu(
          `X_${kind}`,
          type,
          (kind === "u64" || kind === "i64" ? 0n : kind === "bool" ? false : 0) as never,
        ) as ScalarPercpuVar;
        for (const op of ["read", "write"] as const) {
          const access = accessProgram(x, op).instructions.filter((i) => i.accessesMemory);
          const label = `${arch} ${kind} ${op}`;
          if (arch === "riscv32" && (kind === "u64" || kind === "i64")) {
            // RV32 has no 64-bit integer load: two 32-bit halves, a tick can fall between.
            assert.deepEqual(access.map((i) => [i.kind, i.imm]).sort(), [["u32", 0], ["u32", 4]]);
          } else {
            assert.equal(access.length, 1, label);
            assert.equal(access[0].kind, kind, label);
          }
        }
      }
    }
  });
});

Deno.test("x86_64 current_ptr reads the SELF_PTR slot through gs:, never the MSR", () => {
  const p = createPercpu({ arch: "x86_64" });
  const x = p.defPercpu("X", u32, 0);
  const program = accessProgram(x, "ptr").instructions;
  assert.equal(program[0].text, "mov rax, qword ptr gs:[offset __PERCPU_SELF_PTR]");
  assert.ok(program[0].samplesPercpuReg && program[0].accessesMemory);
  assert.ok(program.slice(1).every((i) => !i.samplesPercpuReg));
  assert.ok(program.every((i) => !/rdmsr|rdgsbase|GS_BASE/.test(i.text)));
  assert.ok(program.some((i) => i.text.includes("__PERCPU_X")));
  const selfPtr = p.variables().find((v) => v.name === "SELF_PTR");
  assert.ok(selfPtr, "x86_64 defines the crate's SELF_PTR");
  assert.equal(selfPtr.offset(), 0, "SELF_PTR is the first slot of every area");
});

Deno.test("x86_64 writePercpuReg stores the register value in the area's SELF_PTR", async (t) => {
  for (const features of [[], ["non-zero-vma"]] as Feature[][]) {
    await t.step(features.join(" + ") || "default", () => {
      const p = createPercpu({ features });
      const x = p.defPercpu("X", u32, 0);
      p.init(3);
      const selfPtr = p.variables().find((v) => v.name === "SELF_PTR")!;
      const vma = p.symbols()._percpu_load_start;
      for (let cpu = 0; cpu < 3; cpu++) {
        p.initPercpuReg(cpu);
        // write_percpu_reg stores tp (minus the VMA) in GS_BASE and in SELF_PTR.
        assert.equal(selfPtr.remoteRefRaw(cpu).value, p.percpuAreaBase(cpu) - vma);
        assert.equal(portOf(p).context.reg, p.percpuAreaBase(cpu) - vma);
        assert.equal(p.readPercpuReg(), p.percpuAreaBase(cpu));
        assert.equal(x.currentPtr(), p.percpuAreaBase(cpu) + x.offset());
      }
    });
  }
});

Deno.test("preempt wraps guarded ops in one disable/enable pair and leaves raw ops alone", async (t) => {
  const guardedOps: AccessOp[] = ["read", "write", "add", "with-current"];
  const rawOps: AccessOp[] = [
    "offset",
    "ptr",
    "read-raw",
    "write-raw",
    "add-raw",
    "with-current-raw",
    "remote-ptr",
    "remote-read",
    "remote-write",
  ];
  for (const arch of ARCHES) {
    for (const base of [[], ["sp-naive"]] as Feature[][]) {
      await t.step([arch, ...base].join(" + "), () => {
        const plain = createPercpu({ arch, features: base }).defPercpu("X", u32, 0);
        const guarded = createPercpu({ arch, features: [...base, "preempt"] })
          .defPercpu("X", u32, 0);
        for (const op of guardedOps) {
          const unguarded = plain.disassemble(op);
          const wrapped = accessProgram(guarded, op).instructions;
          assert.equal(wrapped[0].op, Op.PreemptOff, op);
          assert.equal(wrapped.at(-1)!.op, Op.PreemptOn, op);
          assert.match(wrapped[0].text, /__KernelGuardIf_disable_preempt$/);
          assert.match(wrapped.at(-1)!.text, /__KernelGuardIf_enable_preempt$/);
          assert.deepEqual(wrapped.slice(1, -1).map((i) => i.text), unguarded, op);
          assert.ok(unguarded.length > 0 && !accessProgram(plain, op).instructions.some(isGuard));
        }
        for (const op of rawOps) {
          assert.deepEqual(guarded.disassemble(op), plain.disassemble(op), op);
          assert.ok(!accessProgram(guarded, op).instructions.some(isGuard), op);
        }
      });
    }
  }
});

function isGuard(i: Instruction): boolean {
  return i.op === Op.PreemptOff || i.op === Op.PreemptOn;
}

Deno.test("sp-naive: plain global accesses that never touch a per-CPU register", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch, features: ["sp-naive"] });
      const x = p.defPercpu("X", u64, 0n);
      for (const op of ["read", "write", "ptr", "add", "remote-ptr"] as const) {
        const program = accessProgram(x, op).instructions;
        assert.ok(program.every((i) => !i.samplesPercpuReg), `${op} does not sample`);
        assert.ok(program.some((i) => i.text.includes("__PERCPU_X")), `${op} names the global`);
        for (const reg of ["gs:", "TPIDR", "gp", "$r21", "c13"]) {
          assert.ok(program.every((i) => !i.text.includes(reg)), `${op} mentions ${reg}`);
        }
      }
    });
  }
  await t.step("x86_64 addresses the global rip-relative", () => {
    const x = createPercpu({ features: ["sp-naive"] }).defPercpu("X", u64, 0n);
    assert.deepEqual(x.disassemble("read"), ["mov rax, qword ptr [rip + __PERCPU_X]"]);
  });
});

Deno.test("custom-base: current_ptr is read_percpu_reg() plus the address minus the link start", async (t) => {
  await t.step("x86_64 reads GS_BASE itself (rdgsbase), not SELF_PTR", () => {
    const x = createPercpu({ features: ["custom-base"] }).defPercpu("X", u64, 0n);
    assert.deepEqual(x.disassemble("read"), [
      "rdgsbase rax",
      "mov esi, offset __PERCPU_X",
      "mov edi, offset _percpu_load_start",
      "sub esi, edi",
      "add rax, rsi",
      "mov rax, qword ptr [rax]",
    ]);
  });
  await t.step("riscv64", () => {
    const x = createPercpu({ arch: "riscv64", features: ["custom-base"] }).defPercpu("X", u32, 0);
    assert.deepEqual(x.disassemble("write"), [
      "mv a0, gp",
      "lui a5, %hi(__PERCPU_X)",
      "addi a5, a5, %lo(__PERCPU_X)",
      "lui a6, %hi(_percpu_load_start)",
      "addi a6, a6, %lo(_percpu_load_start)",
      "sub a5, a5, a6",
      "add a0, a0, a5",
      "sw a1, 0(a0)",
    ]);
  });
  for (const arch of ARCHES) {
    await t.step(`${arch}: the register is sampled first, once`, () => {
      const p = createPercpu({ arch, features: ["custom-base"] });
      const x = p.defPercpu("X", u32, 0);
      for (const op of ["ptr", "read", "write", "add"] as const) {
        const program = accessProgram(x, op).instructions;
        assert.ok(program[0].samplesPercpuReg, `${op}: ${program[0].text}`);
        assert.equal(program.filter((i) => i.samplesPercpuReg).length, 1, op);
        assert.ok(program.some((i) => i.text.includes("_percpu_load_start")), op);
      }
    });
  }
});

Deno.test("dynamic variables: this_cpu_ptr on a pointer held at run time", async (t) => {
  await t.step(
    "x86_64: the pointer is loaded, then one gs-relative access (Linux this_cpu_*)",
    () => {
      const p = createPercpu();
      p.init(2);
      const d = p.allocPercpu(u32);
      const ptr = `mov rsi, qword ptr [rip + ${d.symbol}]`;
      assert.deepEqual(d.disassemble("read"), [ptr, "mov eax, dword ptr gs:[rsi]"]);
      assert.deepEqual(d.disassemble("add"), [ptr, "add dword ptr gs:[rsi], edx"]);
      assert.deepEqual(d.disassemble("ptr"), [
        ptr,
        "mov rax, qword ptr gs:[offset __PERCPU_SELF_PTR]",
        "add rax, rsi",
      ]);
    },
  );
  await t.step("loongarch64: an indexed access with $r21", () => {
    const p = createPercpu({ arch: "loongarch64" });
    p.defPercpu("PAD", u64, 0n);
    const d = p.allocPercpu(u16);
    assert.deepEqual(d.disassemble("write"), [
      `pcalau12i $t0, %pc_hi20(${d.symbol})`,
      `ld.d $t0, $t0, %pc_lo12(${d.symbol})`,
      "stx.h $a1, $t0, $r21",
    ]);
  });
  for (const arch of ARCHES) {
    for (const features of [[], ["non-zero-vma"], ["custom-base"]] as Feature[][]) {
      await t.step([arch, ...features].join(" + "), () => {
        const p = createPercpu({ arch, features });
        p.defPercpu("PAD", u64, 0n);
        const d = p.allocPercpu(u32);
        for (const op of ["ptr", "read", "write", "add", "with-current"] as const) {
          const program = accessProgram(d, op).instructions;
          const load = program.findIndex((i) => i.accessesMemory);
          const sample = program.findIndex((i) => i.samplesPercpuReg);
          assert.ok(load >= 0 && load < sample, `${op}: the pointer is loaded before the register`);
          assert.equal(program[load].kind, "usize", `${op}: a pointer-sized load`);
          assert.ok(!program[load].samplesPercpuReg, `${op}: from a plain global`);
          assert.ok(
            program.slice(0, load + 1).some((i) => i.text.includes(d.symbol)),
            `${op}: the pointer is ${d.symbol}`,
          );
          // A read-modify-write through an index samples it at the load and the store.
          const samples = program.filter((i) => i.samplesPercpuReg).length;
          assert.ok(op === "add" ? samples >= 1 : samples === 1, `${op}: ${samples} samples`);
          assert.ok(program.every((i) => !i.text.includes("__PERCPU_PAD")), op);
        }
        const remote = accessProgram(d, "remote-ptr", { cpu: 1 }).instructions;
        assert.ok(remote.every((i) => !i.samplesPercpuReg), "per_cpu_ptr uses no register");
        // The pointer holds the offset plus what the register lacks of the base:
        // symbol_vma(_percpu_load_start) under non-zero-vma (16 bits on AArch64: 0 here).
        const bias = features.includes("non-zero-vma")
          ? archTable(arch).symbolVma(createPercpu({ arch, features }).symbols()._percpu_load_start)
          : 0;
        assert.equal(
          remote.some((i) => i.text.includes("_percpu_load_start")),
          bias !== 0,
          "per_cpu_ptr subtracts the register's bias from the pointer, when there is one",
        );
      });
    }
  }
});

Deno.test("structs and arrays have only the pointer accesses", () => {
  const p = createPercpu({ arch: "riscv64" });
  const s = p.defPercpu("S", struct({ a: u8, b: u16 }), { a: 1, b: 2 });
  for (const op of ["offset", "ptr", "remote-ptr"] as const) {
    assert.ok(s.disassemble(op).length > 0, op);
  }
  for (const op of ["read", "write", "add", "with-current"] as const) {
    assert.throws(() => s.disassemble(op), RangeError, op);
  }
});

// ---------------------------------------------------------------------------
// A tiny interpreter of `Instruction`s. Integer registers hold bigints (so the
// arithmetic is independent of the library's scalar codecs), float registers
// hold numbers, and memory is read through a DataView of each region.

type Value = bigint | number;

interface Run {
  readonly regs: Value[];
  readonly guards: ("off" | "on")[];
}

/** Reads `kind` at `address` as a register value (sign- or zero-extended). */
function load(p: Percpu, kind: ScalarKind, address: number): Value {
  const size = sizeOf(SCALAR_TYPES[kind], p.arch);
  const { view, at } = locate(p, address, size);
  switch (kind) {
    case "f32":
      return view.getFloat32(at, true);
    case "f64":
      return view.getFloat64(at, true);
    case "i8":
      return BigInt(view.getInt8(at));
    case "i16":
      return BigInt(view.getInt16(at, true));
    case "i32":
      return BigInt(view.getInt32(at, true));
    case "i64":
      return view.getBigInt64(at, true);
    case "isize":
      return size === 4 ? BigInt(view.getInt32(at, true)) : view.getBigInt64(at, true);
    default:
      return size === 1
        ? BigInt(view.getUint8(at))
        : size === 2
        ? BigInt(view.getUint16(at, true))
        : size === 4
        ? BigInt(view.getUint32(at, true))
        : view.getBigUint64(at, true);
  }
}

/** Stores the low bits of a register value as `kind` at `address`. */
function store(p: Percpu, kind: ScalarKind, address: number, value: Value): void {
  const size = sizeOf(SCALAR_TYPES[kind], p.arch);
  const { view, at } = locate(p, address, size);
  if (kind === "f32") return view.setFloat32(at, value as number, true);
  if (kind === "f64") return view.setFloat64(at, value as number, true);
  const bits = BigInt.asUintN(size * 8, value as bigint);
  if (size === 8) view.setBigUint64(at, bits, true);
  else if (size === 4) view.setUint32(at, Number(bits), true);
  else if (size === 2) view.setUint16(at, Number(bits), true);
  else view.setUint8(at, Number(bits));
}

function locate(p: Percpu, address: number, size: number): { view: DataView; at: number } {
  assert.equal(address % size, 0, `access of ${size} bytes at ${address} is misaligned`);
  const region = portOf(p).memory.resolve(address, size);
  assert.ok(region, `${size} bytes at 0x${address.toString(16)} are not mapped`);
  return { view: new DataView(region.buffer), at: address + region.bias };
}

function addValues(p: Percpu, kind: ScalarKind, a: Value, b: Value): Value {
  if (kind === "f32") return Math.fround((a as number) + (b as number));
  if (kind === "f64") return (a as number) + (b as number);
  return BigInt.asUintN(p.pointerBytes * 8, (a as bigint) + (b as bigint));
}

function isPair(p: Percpu, kind: ScalarKind | null): boolean {
  return p.pointerBytes === 4 && (kind === "u64" || kind === "i64");
}

function num(v: Value): number {
  return Number(v);
}

function execute(
  p: Percpu,
  program: AccessProgram,
  inputs: Record<number, Value> = {},
  fn: (value: unknown) => unknown = (value) => value,
): Run {
  const regs: Value[] = Array.from({ length: REG_COUNT }, () => 0n);
  for (const [slot, value] of Object.entries(inputs)) regs[Number(slot)] = value;
  const guards: ("off" | "on")[] = [];
  let carry = 0n;
  const preg = () => BigInt(portOf(p).context.reg);
  const at = (i: Instruction, base: bigint) =>
    num(base + (i.a < 0 ? 0n : regs[i.a] as bigint) + BigInt(i.imm));
  for (const i of program.instructions) {
    switch (i.op) {
      case Op.MovPreg:
        regs[i.d] = preg();
        break;
      case Op.Li:
        regs[i.d] = BigInt(i.imm);
        break;
      case Op.AddImm:
        regs[i.d] = (regs[i.a] as bigint) + BigInt(i.imm);
        break;
      case Op.Add:
        regs[i.d] = (regs[i.a] as bigint) + (regs[i.b] as bigint);
        break;
      case Op.Sub:
        regs[i.d] = (regs[i.a] as bigint) - (regs[i.b] as bigint);
        break;
      case Op.AddPreg:
        regs[i.d] = (regs[i.a] as bigint) + preg();
        break;
      case Op.Load:
        regs[i.d] = load(p, i.kind!, at(i, 0n));
        break;
      case Op.Store:
        store(p, i.kind!, at(i, 0n), regs[i.b]);
        break;
      case Op.LoadPreg:
        regs[i.d] = load(p, i.kind!, at(i, preg()));
        break;
      case Op.StorePreg:
        store(p, i.kind!, at(i, preg()), regs[i.b]);
        break;
      case Op.AddMemPreg:
      case Op.AddMem: {
        const address = at(i, i.op === Op.AddMemPreg ? preg() : 0n);
        store(p, i.kind!, address, addValues(p, i.kind!, load(p, i.kind!, address), regs[i.b]));
        break;
      }
      case Op.AddValue:
        regs[i.d] = addValues(p, i.kind!, regs[i.a], regs[i.b]);
        break;
      case Op.CallFn:
        Object.assign(regs, toRegs(p, i.kind!, i.d, fn(fromRegs(p, i.kind!, i.a, regs))));
        break;
      case Op.AreaBase:
        regs[i.d] = BigInt(p.percpuAreaBase(num(regs[i.a])));
        break;
      case Op.PreemptOff:
        guards.push("off");
        break;
      case Op.PreemptOn:
        guards.push("on");
        break;
      case Op.LoadPair: {
        const address = at(i, 0n);
        regs[i.d] = load(p, "u32", address);
        regs[i.d + 1] = load(p, "u32", address + 4);
        break;
      }
      case Op.StorePair: {
        const address = at(i, 0n);
        store(p, "u32", address, regs[i.b]);
        store(p, "u32", address + 4, regs[i.b + 1]);
        break;
      }
      case Op.AddCarry: {
        const sum = (regs[i.a] as bigint) + (regs[i.b] as bigint);
        regs[i.d] = BigInt.asUintN(32, sum);
        carry = sum >> 32n;
        break;
      }
      case Op.AddWithCarry:
        regs[i.d] = BigInt.asUintN(32, (regs[i.a] as bigint) + (regs[i.b] as bigint) + carry);
        break;
      case Op.WriteSysreg:
        portOf(p).context.writeSysreg(SYSTEM_REGS[i.imm], num(regs[i.a]));
        break;
      case Op.SetLessThanU:
        regs[i.d] =
          BigInt.asUintN(32, regs[i.a] as bigint) < BigInt.asUintN(32, regs[i.b] as bigint)
            ? 1n
            : 0n;
        break;
      case Op.Nop:
        break;
      default:
        assert.fail(`unknown op ${i.op} in ${i.text}`);
    }
  }
  return { regs, guards };
}

/** A JS value of `kind` as the register (pair) contents a program expects. */
function toRegs(p: Percpu, kind: ScalarKind, slot: number, value: unknown): Record<number, Value> {
  let reg: Value;
  if (kind === "f32" || kind === "f64") reg = value as number;
  else if (kind === "bool") reg = value ? 1n : 0n;
  else reg = BigInt(value as number | bigint);
  if (!isPair(p, kind)) return { [slot]: reg };
  const bits = BigInt.asUintN(64, reg as bigint);
  return { [slot]: BigInt.asUintN(32, bits), [slot + 1]: bits >> 32n };
}

/** Register (pair) contents as the JS value the accessors return. */
function fromRegs(p: Percpu, kind: ScalarKind, slot: number, regs: Value[]): unknown {
  let reg = regs[slot];
  if (isPair(p, kind)) reg = ((regs[slot + 1] as bigint) << 32n) | (reg as bigint);
  switch (kind) {
    case "f32":
    case "f64":
      return reg;
    case "bool":
      return reg !== 0n;
    case "u64":
      return BigInt.asUintN(64, reg as bigint);
    case "i64":
      return BigInt.asIntN(64, reg as bigint);
    default: {
      const bits = sizeOf(SCALAR_TYPES[kind], p.arch) * 8;
      const signed = kind.startsWith("i");
      return Number(
        signed ? BigInt.asIntN(bits, reg as bigint) : BigInt.asUintN(bits, reg as bigint),
      );
    }
  }
}

/** Two distinct values per kind, the second chosen to wrap on `add`. */
function samples(
  kind: ScalarKind,
  pointerBytes: 4 | 8,
): { a: unknown; b: unknown; delta: unknown } {
  const wide = pointerBytes === 8;
  switch (kind) {
    case "bool":
      return { a: true, b: false, delta: null };
    case "u8":
      return { a: 0xa5, b: 0xfe, delta: 3 };
    case "u16":
      return { a: 0xbeef, b: 0xfffe, delta: 5 };
    case "u32":
      return { a: 0xdead_beef, b: 0xffff_fffe, delta: 7 };
    case "u64":
      return { a: 0xa2ce_a2ce_a2ce_a2cen, b: 0xffff_ffff_ffff_fffen, delta: 0x1_0000_0003n };
    case "usize":
      return wide
        ? { a: 0x1234_5678_9abc, b: 0xffff_ffff, delta: 0x1_0000_0001 }
        : { a: 0x89ab_cdef, b: 0xffff_fffe, delta: 9 };
    case "i8":
      return { a: -100, b: 126, delta: 5 };
    case "i16":
      return { a: -30000, b: 32766, delta: 5 };
    case "i32":
      return { a: -2_000_000_000, b: 2_147_483_646, delta: 5 };
    case "i64":
      return { a: -(2n ** 62n) - 3n, b: 2n ** 63n - 2n, delta: 5n };
    case "isize":
      return wide
        ? { a: -(2 ** 40) - 7, b: 2 ** 33, delta: -(2 ** 34) }
        : { a: -2_000_000_000, b: 2_147_483_646, delta: 5 };
    case "f32":
      return { a: 1.5, b: Math.fround(0.1), delta: Math.fround(0.2) };
    case "f64":
      return { a: -2.25, b: 0.1, delta: 0.2 };
  }
}

const EXEC_FEATURES: Feature[][] = [
  [],
  ["preempt"],
  ["non-zero-vma"],
  ["non-zero-vma", "preempt"],
  ["sp-naive"],
  ["sp-naive", "preempt"],
  ["custom-base"],
  ["custom-base", "preempt"],
];

function executionCases(): [Arch, Feature[]][] {
  return [
    ...ARCHES.flatMap((arch) => EXEC_FEATURES.map((f): [Arch, Feature[]] => [arch, f])),
    ["aarch64", ["arm-el2"]],
    ["aarch64", ["arm-el2", "non-zero-vma", "preempt"]],
  ];
}

function checkScalar(p: Percpu, x: ScalarPercpuVar, cpus: number): void {
  const kind = x.type.kind;
  const { a, b, delta } = samples(kind, p.pointerBytes);
  const guarded = p.hasFeature("preempt");
  const expectGuards = (run: Run, op: AccessOp) =>
    assert.deepEqual(
      run.guards,
      guarded && !op.endsWith("-raw") && !op.startsWith("remote") ? ["off", "on"] : [],
      `${kind} ${op} guards`,
    );
  const others = Array.from({ length: cpus }, (_, i) => i);

  for (let cpu = 0; cpu < cpus; cpu++) {
    p.initPercpuReg(cpu);
    const label = `${kind} on CPU ${cpu}`;
    const snapshot = (): unknown[] => others.map((c) => x.remoteRefRaw(c).value);

    x.writeCurrent(a as never);
    for (const op of ["read", "read-raw"] as const) {
      const program = accessProgram(x, op);
      const run = execute(p, program);
      assert.deepEqual(fromRegs(p, kind, program.result, run.regs), a, `${label} ${op}`);
      assert.deepEqual(x.readCurrent(), a, `${label} readCurrent`);
      expectGuards(run, op);
    }

    for (const op of ["write", "write-raw"] as const) {
      const before = snapshot();
      const program = accessProgram(x, op);
      const run = execute(p, program, toRegs(p, kind, program.input, b));
      assert.deepEqual(x.readCurrent(), b, `${label} ${op}`);
      const after = snapshot();
      before[cpu] = b;
      assert.deepEqual(after, before, `${label} ${op} touches only its own copy`);
      expectGuards(run, op);
      x.writeCurrent(a as never);
    }

    if (delta !== null) {
      for (const op of ["add", "add-raw"] as const) {
        x.writeCurrent(b as never);
        const program = accessProgram(x, op);
        const run = execute(p, program, toRegs(p, kind, program.input, delta));
        const stepped = x.readCurrent();
        x.writeCurrent(b as never);
        x.addCurrent(delta as never);
        assert.deepEqual(stepped, x.readCurrent(), `${label} ${op}`);
        expectGuards(run, op);
      }
    }

    for (const op of ["with-current", "with-current-raw"] as const) {
      x.writeCurrent(a as never);
      const seen: unknown[] = [];
      const run = execute(p, accessProgram(x, op), {}, (v) => {
        seen.push(v);
        return b;
      });
      assert.deepEqual(seen, [a], `${label} ${op} passes the current value`);
      assert.deepEqual(x.readCurrent(), b, `${label} ${op} stores the result`);
      expectGuards(run, op);
      x.writeCurrent(a as never);
    }

    const ptr = execute(p, accessProgram(x, "ptr"));
    assert.equal(num(ptr.regs[0]), x.currentPtr(), `${label} ptr`);

    for (let remote = 0; remote < cpus; remote++) {
      const readProgram = accessProgram(x, "remote-read", { cpu: remote });
      const read = execute(p, readProgram);
      assert.deepEqual(
        fromRegs(p, kind, readProgram.result, read.regs),
        x.remoteRefRaw(remote).value,
        `${label} remote-read ${remote}`,
      );
      const writeProgram = accessProgram(x, "remote-write", { cpu: remote });
      const saved = x.remoteRefRaw(remote).value;
      execute(p, writeProgram, toRegs(p, kind, writeProgram.input, b));
      assert.deepEqual(x.remoteRefRaw(remote).value, b, `${label} remote-write ${remote}`);
      x.remoteRefMutRaw(remote).value = saved as never;
      const remotePtr = execute(p, accessProgram(x, "remote-ptr", { cpu: remote }));
      assert.equal(num(remotePtr.regs[0]), x.remotePtr(remote), `${label} remote-ptr`);
    }
  }
}

Deno.test("executing each disassembled access does what the accessors do", async (t) => {
  for (const [arch, features] of executionCases()) {
    await t.step([arch, ...features].join(" + "), () => {
      const p = createPercpu({ arch, features });
      const vars = Object.entries(SCALAR_TYPES).map(([kind, type]) =>
        p.defPercpu(
          `V_${kind}`,
          type,
          (kind === "bool" ? false : kind === "u64" || kind === "i64" ? 0n : 0) as never,
        ) as ScalarPercpuVar
      );
      const s = p.defPercpu("S", struct({ a: u8, b: usize, c: f32 }), { a: 1, b: 2, c: 3 });
      const cpus = p.init(3);
      for (const x of vars) checkScalar(p, x, cpus);
      if (!features.includes("sp-naive")) {
        // Dynamic variables: their pointer is loaded at run time.
        for (const [kind, type] of Object.entries(SCALAR_TYPES)) {
          const init = kind === "bool" ? true : kind === "u64" || kind === "i64" ? 1n : 1;
          checkScalar(p, p.allocPercpu(type, init as never) as ScalarPercpuVar, cpus);
        }
      }

      for (let cpu = 0; cpu < cpus; cpu++) {
        p.initPercpuReg(cpu);
        const offset = accessProgram(s, "offset");
        const slot = offset.instructions.at(-1)!.d;
        assert.equal(num(execute(p, offset).regs[slot]), s.offset(), `${arch} offset`);
        assert.equal(num(execute(p, accessProgram(s, "ptr")).regs[0]), s.currentPtr());
        for (let remote = 0; remote < cpus; remote++) {
          const run = execute(p, accessProgram(s, "remote-ptr", { cpu: remote }));
          assert.equal(num(run.regs[0]), s.remotePtr(remote));
        }
      }
    });
  }
});

Deno.test("executing a sysreg write moves the per-CPU register as writePercpuReg does", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch });
      const x = p.defPercpu("X", u16, 0);
      p.init(2);
      p.initPercpuReg(0);
      x.remoteRefMutRaw(1).value = 0x4321;
      const [write] = portOf(p).table.writeSysreg(p.percpuReg);
      execute(p, { op: "ptr", instructions: [write], result: -1, input: -1 }, {
        [write.a]: BigInt(p.percpuAreaBase(1)),
      });
      assert.equal(portOf(p).context.reg, p.percpuAreaBase(1));
      assert.equal(x.readCurrent(), 0x4321);
    });
  }
});

Deno.test("riscv32: a u64 add is two loads, add/sltu/add/add, two stores", () => {
  const x = createPercpu({ arch: "riscv32" }).defPercpu("X", u64, 0n);
  assert.deepEqual(x.disassemble("add").slice(4), [
    "lw a2, 0(a0)",
    "lw a3, 4(a0)",
    "add a2, a2, a4",
    "sltu a6, a2, a4",
    "add a3, a3, a5",
    "add a3, a3, a6",
    "sw a2, 0(a0)",
    "sw a3, 4(a0)",
  ]);
  const usizeVar = createPercpu({ arch: "riscv32" }).defPercpu("N", usize, 0);
  assert.equal(usizeVar.size, 4, "usize is 4 bytes on riscv32");
});

Deno.test("non-zero-vma: current_ptr keeps the crate's short shape on every arch", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const plain = createPercpu({ arch }).defPercpu("X", u64, 0n);
      const vma = createPercpu({ arch, features: ["non-zero-vma"] }).defPercpu("X", u64, 0n);
      for (const op of ["ptr", "read", "write", "add", "with-current"] as const) {
        // register + symbol_vma(X): the register holds base − _percpu_load_start.
        assert.deepEqual(vma.disassemble(op), plain.disassemble(op), op);
      }
      // Only offset() subtracts symbol_vma(_percpu_load_start).
      const offset = vma.disassemble("offset");
      assert.equal(offset.length, plain.disassemble("offset").length * 2 + 1);
      assert.ok(offset.some((text) => text.includes("_percpu_load_start")));
    });
  }
  await t.step("aarch64: movz #:abs_g0_nc: twice, as the crate", () => {
    const x = createPercpu({ arch: "aarch64", features: ["non-zero-vma"] }).defPercpu("X", u8, 0);
    assert.deepEqual(x.disassemble("offset"), [
      "movz x1, #:abs_g0_nc:__PERCPU_X",
      "movz x9, #:abs_g0_nc:_percpu_load_start",
      "sub x1, x1, x9",
    ]);
    assert.ok(accessProgram(x, "ptr").instructions.every((i) => !/adrp|movk/.test(i.text)));
  });
});

Deno.test("aarch64 non-zero-vma: the 16-bit symbol_vma and register bias cancel, as in the crate", () => {
  const p = createPercpu({ arch: "aarch64", features: ["non-zero-vma"] });
  const x = p.defPercpu("X", u32, 0);
  const y = p.defPercpu("Y", u64, 0n);
  p.init(2);
  const loadStart = p.symbols()._percpu_load_start;
  assert.equal(loadStart % 0x10000, 0, "the section starts 64 KiB-aligned");
  for (let cpu = 0; cpu < 2; cpu++) {
    p.initPercpuReg(cpu);
    // write_percpu_reg stores tp − symbol_vma(_percpu_load_start): the low 16 bits, here 0.
    assert.equal(portOf(p).context.reg, p.percpuAreaBase(cpu) - (loadStart % 0x10000));
    assert.equal(p.readPercpuReg(), p.percpuAreaBase(cpu));
    for (const v of [x, y]) {
      assert.equal(v.symbolVma(), (loadStart + v.offset()) % 0x10000, "movz keeps 16 bits");
      assert.equal(v.currentPtr(), p.percpuAreaBase(cpu) + v.offset());
      const ptr = execute(p, accessProgram(v, "ptr"));
      assert.equal(num(ptr.regs[0]), v.currentPtr(), "the listing computes current_ptr");
    }
  }
});

Deno.test("aarch64: a section that would straddle a 64 KiB boundary is refused", () => {
  for (const features of [[], ["non-zero-vma"]] as Feature[][]) {
    const p = createPercpu({ arch: "aarch64", features });
    p.defPercpu("BIG", struct({ a: u64 }), { a: 0n });
    const big = (n: number) => Array.from({ length: n }, () => 0);
    p.defPercpu("FILL", array(u8, 0x10000 - 8), big(0x10000 - 8) as never);
    assert.throws(
      () => p.defPercpu("OVER", u64, 0n),
      (e: Error) => e.name === "DefinitionError" && /64 KiB/.test(e.message),
    );
  }
});
