/**
 * Executes one instruction of an access program for a task on a simulated
 * CPU: the register-transfer meaning the architecture tables give each
 * instruction. Memory accesses are checked against the per-CPU areas: a
 * local access that hits another CPU's area is a violation.
 *
 * @module
 */

import { hex } from "../../lib/_describe.ts";
import { FaultError } from "../../lib/errors.ts";
import { type Instruction, Op, SYSREGS } from "../../lib/isa/isa.ts";
import type { Region } from "../../lib/_memory.ts";
import type { Percpu } from "../../lib/percpu.ts";
import { type CorePort, NOT_PERCPU, portOf } from "../../lib/_port.ts";
import type { CoreHandles, CurrentContext } from "./_core_handles.ts";
import { type ScalarCodec, scalarCodec } from "../../lib/_scalar_codec.ts";
import type { ScalarKind } from "../../lib/types.ts";
import type { AccessProgram } from "../../lib/isa/access_program.ts";
import type { RunState, SimCpu, SimTask } from "./_state.ts";
import type { StepRecord } from "./_step_record.ts";

/** A task's saved register context. */
export interface RegisterFile {
  /** Register slots (numbers, bigints, booleans). */
  readonly regs: unknown[];
  /** ARM's carry flag, for `adds`/`adc`. */
  carry: number;
}

/** The preempt-count changes an instruction can make (`kernel_guard` calls). */
export interface PreemptHooks {
  /** `disable_preempt()` on behalf of the task running on `cpu`. */
  preemptOff(cpu: SimCpu): void;
  /** `enable_preempt()` on behalf of the task running on `cpu`. */
  preemptOn(cpu: SimCpu): void;
}

const TWO_32 = 0x1_0000_0000;

/** One instruction with what executing it needs, resolved once per program. */
export interface DecodedInsn {
  /** The instruction. */
  readonly insn: Instruction;
  /** The codec of its kind, or `null` when it has none. */
  readonly codec: ScalarCodec | null;
  /** Bytes it accesses in memory (0 when none). */
  readonly size: number;
  /** Prefix of its error messages. */
  readonly what: string;
}

/**
 * A program's instructions with what each needs resolved: the codec of its
 * kind, its access size and its message prefix.
 *
 * @param program An access program.
 * @param pointerBytes The system's `usize` width.
 * @returns One decoded instruction per instruction.
 */
export function decodeProgram(
  program: AccessProgram,
  pointerBytes: 4 | 8,
): readonly DecodedInsn[] {
  return Object.freeze(program.instructions.map((insn) => {
    const codec = insn.kind && scalarCodec(insn.kind, pointerBytes);
    return Object.freeze({
      insn,
      codec,
      size: codec?.size ?? 0,
      what: insn.op === Op.CallFn ? `${insn.text} (returned value)` : insn.text,
    });
  }));
}

/** Interprets instructions against one system's memory. */
export class Executor {
  readonly #percpu: Percpu;
  readonly #port: CorePort;
  readonly #cpuOfAddress: (address: number) => number;
  readonly #current: CurrentContext;
  readonly #state: RunState;
  readonly #hooks: PreemptHooks;
  readonly #pairs: boolean;
  #region: Region | null = null;
  /** The task and CPU of the instruction being executed, for the memory helpers. */
  #task: SimTask | null = null;
  #cpu: SimCpu | null = null;
  /** Where the step being executed is described, or `null`. */
  record: StepRecord | null = null;
  /** Regions written since the last {@linkcode Executor.clearWritten}. */
  readonly written: Set<Region> = new Set();

  /**
   * Creates an executor.
   *
   * @param percpu The system whose memory and areas the instructions use.
   * @param handles Its port's hot members.
   * @param current Which CPU's registers its accessors use (closures may call them).
   * @param state The run: its trace and violation counters.
   * @param hooks Guard calls.
   */
  constructor(
    percpu: Percpu,
    handles: CoreHandles,
    current: CurrentContext,
    state: RunState,
    hooks: PreemptHooks,
  ) {
    this.#percpu = percpu;
    this.#port = portOf(percpu);
    this.#cpuOfAddress = handles.cpuOfAddress;
    this.#current = current;
    this.#state = state;
    this.#hooks = hooks;
    this.#pairs = percpu.pointerBytes === 4;
  }

  /** Forgets which regions were written (at the start of a run). */
  clearWritten(): void {
    this.written.clear();
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
   * Executes the task's next instruction (`task.insns[task.pc]`) on a CPU.
   *
   * @param task The task, with an access under way.
   * @param cpu The CPU running it.
   * @throws {FaultError} On an unmapped or misaligned access.
   */
  execute(task: SimTask, cpu: SimCpu): void {
    const step = task.insns[task.pc];
    const r = task.regs;
    const insn = step.insn;
    const context = cpu.context;
    this.#task = task;
    this.#cpu = cpu;
    switch (insn.op) {
      case Op.MovPreg:
        r[insn.d] = context.reg;
        if (this.record !== null) this.record.readPercpuReg = true;
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
        if (this.record !== null) this.record.readPercpuReg = true;
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
        this.#current.ensure(context);
        const result = task.request!.fn!(this.take(task, insn.a, kind) as never);
        step.codec!.check(result, step.what);
        this.place(task, insn.d, kind, result);
        return;
      }
      case Op.AreaBase:
        r[insn.d] = this.#percpu.percpuAreaBase(r[insn.a] as number);
        return;
      case Op.PreemptOff:
        this.#hooks.preemptOff(cpu);
        return;
      case Op.PreemptOn:
        this.#hooks.preemptOn(cpu);
        return;
      case Op.LoadPair: {
        const address = (r[insn.a] as number) + insn.imm;
        const region = this.#regionFor(address, step);
        const word = (address + region.bias) >>> 2;
        r[insn.d] = region.u32[word];
        r[insn.d + 1] = region.u32[word + 1];
        this.#record(insn, address, 8, false);
        return;
      }
      case Op.StorePair: {
        const address = (r[insn.a] as number) + insn.imm;
        const region = this.#regionFor(address, step);
        const word = (address + region.bias) >>> 2;
        region.u32[word] = r[insn.b] as number;
        region.u32[word + 1] = r[insn.b + 1] as number;
        this.written.add(region);
        this.#record(insn, address, 8, true);
        return;
      }
      case Op.AddCarry: {
        const sum = (r[insn.a] as number) + (r[insn.b] as number);
        r[insn.d] = sum % TWO_32;
        task.carry = sum >= TWO_32 ? 1 : 0;
        return;
      }
      case Op.AddWithCarry:
        r[insn.d] = ((r[insn.a] as number) + (r[insn.b] as number) + task.carry) % TWO_32;
        return;
      case Op.WriteSysreg: {
        const name = SYSREGS[insn.imm];
        context.writeSysreg(name, r[insn.a] as number);
        if (this.record !== null) this.record.wroteSysreg = true;
        this.#state.trace.sysreg(this.#state.cycle, cpu.id, task.id, name, r[insn.a] as number);
        return;
      }
      case Op.SetLessThanU:
        r[insn.d] = (r[insn.a] as number) >>> 0 < (r[insn.b] as number) >>> 0 ? 1 : 0;
        return;
      case Op.Nop:
        return;
    }
  }

  #regionFor(address: number, step: DecodedInsn): Region {
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

  #load(step: DecodedInsn, address: number): unknown {
    const region = this.#regionFor(address, step);
    const value = step.codec!.read(region, address + region.bias);
    this.#record(step.insn, address, step.size, false);
    return value;
  }

  #store(step: DecodedInsn, address: number, value: unknown): void {
    const region = this.#regionFor(address, step);
    step.codec!.write(region, address + region.bias, value);
    this.written.add(region);
    this.#record(step.insn, address, step.size, true);
  }

  #addInMemory(step: DecodedInsn, address: number, delta: unknown): void {
    const region = this.#regionFor(address, step);
    const codec = step.codec!;
    const byte = address + region.bias;
    codec.write(region, byte, codec.add(codec.read(region, byte), delta, step.what));
    this.written.add(region);
    const record = this.record;
    if (record !== null) {
      record.readAddress = address;
      record.readSize = step.size;
    }
    this.#record(step.insn, address, step.size, true);
  }

  #record(insn: Instruction, address: number, size: number, write: boolean): void {
    const cpu = this.#cpu!.id;
    const task = this.#task!;
    const state = this.#state;
    const remote = task.request!.remote;
    const hit = this.#cpuOfAddress(address);
    const wrong = !remote && hit !== cpu && hit !== NOT_PERCPU;
    const record = this.record;
    if (record !== null) {
      if (write) {
        record.writeAddress = address;
        record.writeSize = size;
      } else {
        record.readAddress = address;
        record.readSize = size;
      }
    }
    if (wrong) {
      state.wrongCpuAccesses++;
      state.firstViolation ??= {
        kind: "access",
        cycle: state.cycle,
        cpu,
        task: task.id,
        address,
        hitCpu: hit,
        write,
        text: insn.text,
        remote: false,
        wrong,
      };
    }
    state.trace.access(state.cycle, cpu, task.id, address, hit, write, insn.text, remote, wrong);
  }
}
