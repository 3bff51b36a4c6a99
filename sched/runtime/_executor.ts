/**
 * Executes one {@linkcode Instruction} of an access program for a task on a
 * simulated CPU: the register-transfer meaning the architecture tables give
 * each instruction. Memory accesses are checked against the per-CPU areas:
 * a local access that hits another CPU's area is a violation.
 *
 * @module
 */

import type { CpuContext } from "../../lib/_cpu_context.ts";
import { hex } from "../../lib/_describe.ts";
import { FaultError } from "../../lib/errors.ts";
import { type Instruction, Op, SYSREGS } from "../../lib/isa/isa.ts";
import type { Region } from "../../lib/_memory.ts";
import type { Percpu } from "../../lib/percpu.ts";
import { type CorePort, NOT_PERCPU, portOf } from "../../lib/_port.ts";
import { type ScalarCodec, scalarCodec } from "../../lib/_scalar_codec.ts";
import type { ScalarKind } from "../../lib/types.ts";
import type { AccessProgram } from "../../lib/isa/access_program.ts";
import type { AccessRequest } from "./task.ts";
import type { AccessEvent, Trace } from "../trace/trace.ts";

/** A task's saved register context. */
export interface RegisterFile {
  /** Register slots (numbers, bigints, booleans). */
  readonly regs: unknown[];
  /** ARM's carry flag, for `adds`/`adc`. */
  carry: number;
}

/** What an instruction can do to the machine beyond registers and memory. */
export interface ExecutorHooks {
  /** `disable_preempt()` on behalf of the task. */
  preemptOff(): void;
  /** `enable_preempt()` on behalf of the task. */
  preemptOn(): void;
  /**
   * A local access hit the wrong area.
   *
   * @param event What happened; built only for violations.
   */
  violation(event: AccessEvent): void;
}

const TWO_32 = 0x1_0000_0000;

/** One instruction with what executing it needs, resolved per program. */
export interface Step {
  /** The instruction. */
  readonly insn: Instruction;
  /** The codec of its kind, or `null` when it has none. */
  readonly codec: ScalarCodec | null;
  /** Bytes it accesses in memory (0 when none). */
  readonly size: number;
  /** Prefix of its error messages. */
  readonly what: string;
}

/** Interprets instructions against one system's memory. */
export class Executor {
  readonly #percpu: Percpu;
  readonly #port: CorePort;
  /** Where memory accesses are recorded; the machine swaps it per run. */
  trace: Trace;
  readonly #hooks: ExecutorHooks;
  readonly #pairs: boolean;
  readonly #compiled = new WeakMap<AccessProgram, readonly Step[]>();
  #region: Region | null = null;
  /** The step being executed: set by {@linkcode Executor.execute} for the memory helpers. */
  #request: AccessRequest | null = null;
  #cycle = 0;
  #cpu = 0;
  #task = 0;
  /** Regions written since the last {@linkcode Executor.clearWritten}. */
  readonly written: Set<Region> = new Set();

  /**
   * Creates an executor.
   *
   * @param percpu The system whose memory and areas the instructions use.
   * @param trace Where memory accesses are recorded.
   * @param hooks Guard calls and violation counting.
   */
  constructor(percpu: Percpu, trace: Trace, hooks: ExecutorHooks) {
    this.#percpu = percpu;
    this.#port = portOf(percpu);
    this.trace = trace;
    this.#hooks = hooks;
    this.#pairs = percpu.pointerBytes === 4;
  }

  /** Forgets which regions were written (at the start of a run). */
  clearWritten(): void {
    this.written.clear();
  }

  /**
   * A program's instructions with what each step needs resolved once: the
   * codec of its kind, its access size and its message prefix.
   *
   * @param program An access program.
   * @returns One step per instruction.
   */
  compile(program: AccessProgram): readonly Step[] {
    let steps = this.#compiled.get(program);
    if (steps === undefined) {
      const pointerBytes = this.#percpu.pointerBytes;
      steps = program.instructions.map((insn) => {
        const codec = insn.kind && scalarCodec(insn.kind, pointerBytes);
        return {
          insn,
          codec,
          size: insn.op === Op.LoadPair || insn.op === Op.StorePair ? 8 : codec?.size ?? 0,
          what: insn.op === Op.CallFn ? `${insn.text} (returned value)` : insn.text,
        };
      });
      this.#compiled.set(program, steps);
    }
    return steps;
  }

  /**
   * Whether a kind lives in a register pair on this architecture (ARM's
   * 64-bit integers).
   *
   * @param kind The value's kind.
   * @returns `true` for `u64`/`i64` on `arm`.
   */
  isPair(kind: ScalarKind): boolean {
    return this.#pairs && (kind === "u64" || kind === "i64");
  }

  /**
   * Puts a value into a register (or pair) before a program starts.
   *
   * @param file The task's registers.
   * @param slot The slot.
   * @param kind The value's kind.
   * @param value The value.
   */
  place(file: RegisterFile, slot: number, kind: ScalarKind, value: unknown): void {
    if (this.isPair(kind)) {
      const v = value as bigint;
      file.regs[slot] = Number(BigInt.asUintN(32, v));
      file.regs[slot + 1] = Number(BigInt.asUintN(32, v >> 32n));
    } else {
      file.regs[slot] = value;
    }
  }

  /**
   * Takes a value out of a register (or pair) when a program ends.
   *
   * @param file The task's registers.
   * @param slot The slot.
   * @param kind The value's kind.
   * @returns The value.
   */
  take(file: RegisterFile, slot: number, kind: ScalarKind): unknown {
    if (!this.isPair(kind)) return file.regs[slot];
    const bits = (BigInt(file.regs[slot + 1] as number) << 32n) | BigInt(file.regs[slot] as number);
    return kind === "i64" ? BigInt.asIntN(64, bits) : bits;
  }

  /**
   * Executes one instruction.
   *
   * @param step The instruction, compiled by {@linkcode Executor.compile}.
   * @param file The task's registers.
   * @param context The executing CPU's registers.
   * @param request The access the instruction belongs to.
   * @param cycle The machine cycle, for the trace.
   * @param cpu The executing CPU's id.
   * @param task The task's id.
   * @throws {FaultError} On an unmapped or misaligned access.
   */
  execute(
    step: Step,
    file: RegisterFile,
    context: CpuContext,
    request: AccessRequest,
    cycle: number,
    cpu: number,
    task: number,
  ): void {
    const r = file.regs;
    const insn = step.insn;
    this.#request = request;
    this.#cycle = cycle;
    this.#cpu = cpu;
    this.#task = task;
    switch (insn.op) {
      case Op.MovPreg:
        r[insn.d] = context.reg;
        return;
      case Op.Li:
        r[insn.d] = insn.imm;
        return;
      case Op.AddImm:
        r[insn.d] = (r[insn.a] as number) + insn.imm;
        return;
      case Op.Add:
        r[insn.d] = (r[insn.a] as number) + (r[insn.b] as number);
        return;
      case Op.Sub:
        r[insn.d] = (r[insn.a] as number) - (r[insn.b] as number);
        return;
      case Op.AddPreg:
        r[insn.d] = (r[insn.a] as number) + context.reg;
        return;
      case Op.Load: {
        const address = (insn.a < 0 ? 0 : r[insn.a] as number) + insn.imm;
        r[insn.d] = this.#load(step, address);
        return;
      }
      case Op.Store: {
        const address = (insn.a < 0 ? 0 : r[insn.a] as number) + insn.imm;
        this.#store(step, address, r[insn.b]);
        return;
      }
      case Op.LoadPreg: {
        const address = context.reg + (insn.a < 0 ? 0 : r[insn.a] as number) + insn.imm;
        r[insn.d] = this.#load(step, address);
        return;
      }
      case Op.StorePreg: {
        const address = context.reg + (insn.a < 0 ? 0 : r[insn.a] as number) + insn.imm;
        this.#store(step, address, r[insn.b]);
        return;
      }
      case Op.AddMemPreg:
      case Op.AddMem: {
        const index = insn.a < 0 ? 0 : r[insn.a] as number;
        const base = insn.op === Op.AddMemPreg ? context.reg + index : index;
        this.#addInMemory(step, base + insn.imm, r[insn.b]);
        return;
      }
      case Op.AddValue:
        r[insn.d] = step.codec!.add(r[insn.a], r[insn.b], step.what);
        return;
      case Op.CallFn: {
        const kind = insn.kind!;
        const result = request.fn!(this.take(file, insn.a, kind) as never);
        step.codec!.check(result, step.what);
        this.place(file, insn.d, kind, result);
        return;
      }
      case Op.AreaBase:
        r[insn.d] = this.#percpu.percpuAreaBase(r[insn.a] as number);
        return;
      case Op.PreemptOff:
        this.#hooks.preemptOff();
        return;
      case Op.PreemptOn:
        this.#hooks.preemptOn();
        return;
      case Op.LoadPair: {
        const address = (r[insn.a] as number) + insn.imm;
        const region = this.#regionFor(address, step);
        const word = (address + region.bias) >>> 2;
        r[insn.d] = region.u32[word];
        r[insn.d + 1] = region.u32[word + 1];
        this.#record(insn, address, false);
        return;
      }
      case Op.StorePair: {
        const address = (r[insn.a] as number) + insn.imm;
        const region = this.#regionFor(address, step);
        const word = (address + region.bias) >>> 2;
        region.u32[word] = r[insn.b] as number;
        region.u32[word + 1] = r[insn.b + 1] as number;
        this.written.add(region);
        this.#record(insn, address, true);
        return;
      }
      case Op.AddCarry: {
        const sum = (r[insn.a] as number) + (r[insn.b] as number);
        r[insn.d] = sum % TWO_32;
        file.carry = sum >= TWO_32 ? 1 : 0;
        return;
      }
      case Op.AddWithCarry:
        r[insn.d] = ((r[insn.a] as number) + (r[insn.b] as number) + file.carry) % TWO_32;
        return;
      case Op.WriteSysreg: {
        const name = SYSREGS[insn.imm];
        context.writeSysreg(name, r[insn.a] as number);
        this.trace.sysreg(cycle, cpu, task, name, r[insn.a] as number);
        return;
      }
      case Op.Nop:
        return;
    }
  }

  #regionFor(address: number, step: Step): Region {
    const size = step.size;
    let region = this.#region;
    if (region === null || address < region.start || address + size > region.end) {
      region = this.#port.memory.resolve(address, size);
      if (region === null) {
        throw new FaultError(
          address,
          `${step.what}: ${size} bytes at ${hex(address)} are not mapped`,
        );
      }
      this.#region = region;
    }
    if ((address & (size - 1)) !== 0) {
      throw new FaultError(address, `${step.what}: ${hex(address)} is not aligned to ${size}`);
    }
    return region;
  }

  #load(step: Step, address: number): unknown {
    const region = this.#regionFor(address, step);
    const value = step.codec!.read(region, address + region.bias);
    this.#record(step.insn, address, false);
    return value;
  }

  #store(step: Step, address: number, value: unknown): void {
    const region = this.#regionFor(address, step);
    step.codec!.write(region, address + region.bias, value);
    this.written.add(region);
    this.#record(step.insn, address, true);
  }

  #addInMemory(step: Step, address: number, delta: unknown): void {
    const region = this.#regionFor(address, step);
    const codec = step.codec!;
    const byte = address + region.bias;
    codec.write(region, byte, codec.add(codec.read(region, byte), delta, step.what));
    this.written.add(region);
    this.#record(step.insn, address, true);
  }

  #record(insn: Instruction, address: number, write: boolean): void {
    const cpu = this.#cpu;
    const remote = this.#request!.remote;
    const hit = this.#port.cpuOfAddress(address);
    const wrong = !remote && hit !== cpu && hit !== NOT_PERCPU;
    if (wrong) {
      this.#hooks.violation({
        kind: "access",
        cycle: this.#cycle,
        cpu,
        task: this.#task,
        address,
        hitCpu: hit,
        write,
        text: insn.text,
        remote: false,
        wrong,
      });
    }
    this.trace.access(this.#cycle, cpu, this.#task, address, hit, write, insn.text, remote, wrong);
  }
}
