/**
 * Dynamic per-CPU allocation, after Linux's `alloc_percpu`/`free_percpu`
 * (beyond the crate, which has only link-time variables).
 *
 * An allocated object's per-CPU pointer is not a link-time symbol but a
 * value held at run time in a pointer variable (a cell in `.data`), and
 * `this_cpu_ptr(p)` adds the per-CPU register to it. That value is the
 * same on every CPU, so CPU `c`'s copy must sit at `base(c) + offset` for
 * every `c`. Linux gets this by giving every chunk the unit layout of the
 * first one. Here areas are `stride` bytes apart (custom-base areas at
 * least that far, since they are 64-byte aligned and do not overlap), so a
 * chunk is one *unit* of `stride` bytes per CPU, CPU `c`'s unit at
 * `base(c) + X` for one chunk offset `X` chosen where every unit's memory
 * is free: a single region of `count × stride` bytes when the areas are
 * contiguous, a region per CPU otherwise. Hence an object can be at most
 * `stride` bytes. Chunks are added when none has room, freed space is
 * reused (first fit, merged with its neighbours), and when the areas are
 * set up again each chunk follows them (kept in place when they did not
 * move) and its objects get their initial values again, as the areas get
 * the template.
 *
 * @module
 */

import { allocateBuffer, type Areas, type AreaSource } from "./_areas.ts";
import { hex, valueText } from "./_describe.ts";
import { FaultError } from "./errors.ts";
import { CpuContext } from "./_cpu_context.ts";
import { ADDRESS_MAP } from "./layout.ts";
import { type Backing, Region } from "./_memory.ts";
import type { PercpuRegister } from "./_percpu_reg.ts";
import { NOT_PERCPU, registerPrograms } from "./_port.ts";
import {
  type DynamicPercpuVar,
  PercpuVariable,
  type VarHost,
  type VarPlace,
} from "./percpu_var.ts";
import type { AccessOp, AccessProgram, ProgramOptions } from "./isa/access_program.ts";
import { scalarCodec } from "./_scalar_codec.ts";
import { layoutOf, type Type, type TypeLayout, typeName, type ValueOf } from "./types.ts";
import { frozenCopy, writeValue } from "./_value_codec.ts";

/**
 * A freed object's pointer: the register plus it lies past all simulated
 * memory (below 2^30), so a simulated access through it faults.
 */
const POISON = 0x4000_0000;

/** Where the pointer variables live, in `.data` (free under every implementation with areas). */
const CELLS_END = ADDRESS_MAP.percpuStart;

/** A free stretch of a unit. */
interface Range {
  start: number;
  end: number;
}

/** A chunk: one unit of `stride` bytes per CPU. */
interface Chunk {
  readonly index: number;
  /** Free ranges of a unit, sorted and merged. */
  readonly free: Range[];
  /** Offset of the units from their CPUs' area bases. */
  offset: number;
  /** The mapped units: one region for contiguous areas, else one per CPU. */
  regions: Region[];
  /** The area bases the units were placed for, or `null` while unplaced. */
  placed: readonly number[] | null;
}

/** One allocated object. */
interface Allocation {
  /** Its pointer variable's name, which names it. */
  readonly name: string;
  readonly chunk: Chunk;
  readonly start: number;
  readonly layout: TypeLayout;
  readonly type: Type;
  readonly init: unknown;
  readonly cell: number;
  readonly place: { offset: number; vma: number };
  freed: boolean;
}

/** What dynamic allocation needs from its system. */
export interface DynamicDeps {
  /** The areas the chunks follow. */
  readonly areas: Areas;
  /** The per-CPU register (its current context). */
  readonly register: PercpuRegister;
  /** The variables' host. */
  readonly host: VarHost;
  /**
   * What the register is added to: the register holds base − this (the
   * section VMA under non-zero-vma), so a pointer is offset + this.
   */
  readonly areaBias: number;
  /** `symbol_vma` of an offset, as for a static variable. */
  readonly vmaOf: (offset: number) => number;
  /** Fixes the section layout (so the stride is final). */
  readonly freeze: () => void;
}

/** What {@linkcode DynamicAreas.prepare} allocated ahead of a set-up. */
export interface DynamicPlan {
  /** New memory per chunk index, for the chunks that must move. */
  readonly buffers: ReadonlyMap<number, readonly Backing[]>;
}

const NO_PLAN: DynamicPlan = Object.freeze({ buffers: new Map() });

/** One entry of a system's dynamic layout, for Workers to compare. */
export interface DynamicFingerprint {
  /** The object's name. */
  readonly name: string;
  /** Its type in Rust syntax. */
  readonly type: string;
  /** Its chunk. */
  readonly chunk: number;
  /** Its offset in a unit. */
  readonly start: number;
  /** Its size. */
  readonly size: number;
}

/**
 * A zeroed value of a type (`alloc_percpu` returns zeroed memory).
 *
 * @param type The descriptor.
 * @returns `0`, `0n`, `false`, or a struct or array of them.
 */
export function zeroOf(type: Type): unknown {
  if (type.kind === "struct") {
    return Object.fromEntries(Object.entries(type.fields).map(([k, t]) => [k, zeroOf(t)]));
  }
  if (type.kind === "array") return Array.from({ length: type.length }, () => zeroOf(type.element));
  if (type.kind === "bool") return false;
  return type.kind === "u64" || type.kind === "i64" ? 0n : 0;
}

function sameBases(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((base, cpu) => base === b[cpu]);
}

function contiguous(bases: readonly number[], stride: number): boolean {
  return bases.every((base, cpu) => base === bases[0] + cpu * stride);
}

/** The dynamic per-CPU objects of one system. */
export class DynamicAreas {
  readonly #deps: DynamicDeps;
  readonly #chunks: Chunk[] = [];
  readonly #live = new Map<object, Allocation>();
  readonly #freeCells: number[] = [];
  readonly #cellCodec;
  #cells: Region | null = null;
  #nextId = 1;

  /**
   * Creates the allocator of a system.
   *
   * @param deps Its areas, register and host.
   */
  constructor(deps: DynamicDeps) {
    this.#deps = deps;
    this.#cellCodec = scalarCodec("usize", deps.host.pointerBytes);
  }

  /**
   * Allocates an object (the caller checked the type and the value).
   *
   * @param type Its type.
   * @param init Its initial value on every CPU.
   * @returns The variable.
   * @throws {RangeError} When the object is larger than a unit.
   */
  allocate<T extends Type>(type: T, init: ValueOf<T>): DynamicPercpuVariable<T> {
    const deps = this.#deps;
    const layout = layoutOf(type, deps.host.pointerBytes);
    // The stride is final once the layout is fixed; checking before fixing
    // it lets a refused allocation leave the system as it was.
    const stride = deps.areas.layout.stride;
    if (layout.size > stride) {
      throw new RangeError(
        `allocPercpu: a ${
          typeName(type)
        } needs ${layout.size} bytes, but a per-CPU unit is ${stride} bytes: register + offset must land in each CPU's own unit, and the areas are ${stride} bytes apart. Enlarge the areas with a padding variable defined before init(), e.g. defPercpu("DYNAMIC_RESERVE", array(u8, ${layout.size}), …)`,
      );
    }
    let found = this.#find(layout);
    let fresh: Backing[] | null = null;
    if (found === null) {
      found = { chunk: this.#newChunk(stride), start: 0 };
      const areas = deps.areas;
      if (areas.ready) fresh = this.#buffersFor(areas.bases, this.#areasShared(areas.bases));
    }
    // Fixing the layout allocates the section, all or nothing; the pointer
    // cell can only fail once .data is full of them.
    deps.freeze();
    const cell = this.#newCell();
    // From here on nothing throws.
    const chunk = found.chunk;
    if (chunk.index === this.#chunks.length) this.#chunks.push(chunk);
    if (fresh !== null) this.#place(chunk, deps.areas.bases, fresh);
    const name = `percpu_ptr_${this.#nextId++}`;
    const allocation: Allocation = {
      name,
      chunk,
      start: found.start,
      layout,
      type,
      init: frozenCopy(type, init),
      cell,
      place: { offset: 0, vma: 0 },
      freed: false,
    };
    this.#take(chunk, found.start, found.start + layout.size);
    const variable = new DynamicPercpuVariable<T>(this, deps, allocation);
    this.#live.set(variable, allocation);
    this.#locate(allocation);
    if (chunk.placed !== null) this.#fill(chunk, [allocation]);
    return variable;
  }

  /** The first chunk with room for `layout`, or `null`. */
  #find(layout: TypeLayout): { chunk: Chunk; start: number } | null {
    for (const chunk of this.#chunks) {
      for (const range of chunk.free) {
        const start = Math.ceil(range.start / layout.align) * layout.align;
        if (start + layout.size <= range.end) return { chunk, start };
      }
    }
    return null;
  }

  #newChunk(stride: number): Chunk {
    return {
      index: this.#chunks.length,
      free: [{ start: 0, end: stride }],
      offset: 0,
      regions: [],
      placed: null,
    };
  }

  #take(chunk: Chunk, start: number, end: number): void {
    const free = chunk.free;
    const i = free.findIndex((r) => r.start <= start && end <= r.end);
    const range = free[i];
    const pieces: Range[] = [];
    if (range.start < start) pieces.push({ start: range.start, end: start });
    if (end < range.end) pieces.push({ start: end, end: range.end });
    free.splice(i, 1, ...pieces);
  }

  #giveBack(chunk: Chunk, start: number, end: number): void {
    const free = chunk.free;
    let i = 0;
    while (i < free.length && free[i].start < start) i++;
    free.splice(i, 0, { start, end });
    for (let j = Math.max(0, i - 1); j < free.length - 1;) {
      if (free[j].end === free[j + 1].start) {
        free[j].end = free[j + 1].end;
        free.splice(j + 1, 1);
      } else {
        j++;
      }
    }
  }

  #newCell(): number {
    const reused = this.#freeCells.pop();
    if (reused !== undefined) return reused;
    const bytes = this.#deps.host.pointerBytes;
    if (this.#cells === null) {
      const buffer = new ArrayBuffer(0, { maxByteLength: CELLS_END - ADDRESS_MAP.data });
      this.#cells = this.#deps.areas.memory.mapFixed(
        new Region(".data (per-CPU pointers)", ADDRESS_MAP.data, buffer, 0, 0),
      );
    }
    const cells = this.#cells;
    const cell = cells.end;
    if (cell + bytes > CELLS_END) {
      throw new RangeError(
        `allocPercpu: no room for another per-CPU pointer below ${hex(CELLS_END)}`,
      );
    }
    cells.grow(cells.length + bytes);
    return cell;
  }

  #writeCell(cell: number, value: number): void {
    const cells = this.#cells!;
    this.#cellCodec.write(cells, cell + cells.bias, value);
  }

  /**
   * Frees an object (`free_percpu`): its space is reused by later
   * allocations and its pointer is poisoned, so simulated accesses through
   * it fault.
   *
   * @param variable A live object of this system (the variable checks).
   */
  free(variable: object): void {
    const allocation = this.#live.get(variable)!;
    allocation.freed = true;
    this.#live.delete(variable);
    this.#giveBack(allocation.chunk, allocation.start, allocation.start + allocation.layout.size);
    this.#writeCell(allocation.cell, POISON);
    this.#freeCells.push(allocation.cell);
  }

  /**
   * Whether an object is live and was allocated here.
   *
   * @param variable Anything.
   * @returns `true` for a live object of this system.
   */
  owns(variable: unknown): boolean {
    return this.#live.has(variable as object);
  }

  /**
   * Allocates the memory the chunks will need after a set-up of the areas,
   * before anything changes, so that a failure leaves the system as it was.
   *
   * @param count Number of areas the set-up will make.
   * @param source Where it will put them (so the bases may be known ahead).
   * @param shared Whether the areas will be in a `SharedArrayBuffer`.
   * @returns The plan for {@linkcode DynamicAreas.commit}.
   * @throws {RangeError} When memory cannot be allocated.
   */
  prepare(count: number, source: AreaSource, shared: boolean): DynamicPlan {
    if (this.#chunks.length === 0) return NO_PLAN;
    const predicted = this.#deps.areas.predict(count, source);
    const buffers = new Map<number, readonly Backing[]>();
    for (const chunk of this.#chunks) {
      if (predicted !== null && this.#fits(chunk, predicted)) continue;
      buffers.set(chunk.index, this.#buffersFor(predicted, shared));
    }
    return { buffers };
  }

  /** New memory for one chunk: one buffer for contiguous areas, else one per CPU. */
  #buffersFor(bases: readonly number[] | null, shared: boolean): Backing[] {
    const areas = this.#deps.areas;
    const stride = areas.layout.stride;
    const count = bases?.length ?? areas.count;
    const make = (size: number): Backing =>
      shared ? new SharedArrayBuffer(Math.max(size, 8)) : allocateBuffer(size, "allocPercpu");
    if (bases === null || contiguous(bases, stride)) return [make(count * stride)];
    return bases.map(() => make(stride));
  }

  #areasShared(bases: readonly number[]): boolean {
    if (bases.length === 0) return false;
    const region = this.#deps.areas.memory.resolve(bases[0], 0);
    return typeof SharedArrayBuffer === "function" && region?.buffer instanceof SharedArrayBuffer;
  }

  #fits(chunk: Chunk, bases: readonly number[]): boolean {
    return chunk.placed !== null && sameBases(chunk.placed, bases) &&
      chunk.regions.every((r) => r.released === null);
  }

  /**
   * Moves the chunks after the areas were set up: a chunk whose areas did
   * not move stays; the others are placed anew (with the plan's memory).
   * Then every object gets its initial value on every CPU, unless `copy`
   * is false (`attach`), which keeps the contents of chunks that stayed.
   *
   * @param plan What {@linkcode DynamicAreas.prepare} allocated.
   * @param copy Whether objects get their initial values again.
   */
  commit(plan: DynamicPlan, copy: boolean): void {
    if (this.#chunks.length === 0) return;
    const bases = this.#deps.areas.bases;
    const moving = this.#chunks.filter((chunk) => !this.#fits(chunk, bases));
    for (const chunk of moving) this.#unplace(chunk, "the per-CPU areas were set up again");
    for (const chunk of moving) {
      const buffers = plan.buffers.get(chunk.index) ??
        this.#buffersFor(bases, this.#areasShared(bases));
      this.#place(chunk, bases, this.#fitting(buffers, bases));
    }
    for (const allocation of this.#live.values()) this.#locate(allocation);
    for (const chunk of this.#chunks) {
      if (copy || moving.includes(chunk)) this.#fill(chunk, this.#objectsOf(chunk));
    }
  }

  /** The plan's memory when its shape still matches the bases, else fresh memory. */
  #fitting(buffers: readonly Backing[], bases: readonly number[]): readonly Backing[] {
    const stride = this.#deps.areas.layout.stride;
    const one = contiguous(bases, stride);
    const ok = one
      ? buffers.length === 1 && buffers[0].byteLength >= bases.length * stride
      : buffers.length === bases.length;
    return ok ? buffers : this.#buffersFor(bases, this.#areasShared(bases));
  }

  /**
   * Workers: maps the chunks that hold live objects onto memory another
   * system shared, keeping its contents.
   *
   * @param buffers One buffer per chunk, from {@linkcode DynamicAreas.shared}.
   * @throws {RangeError} When a buffer is missing or too small, or the
   *   areas are not contiguous. Nothing changes.
   */
  adopt(buffers: readonly SharedArrayBuffer[]): void {
    const bases = this.#deps.areas.bases;
    const stride = this.#deps.areas.layout.stride;
    const need = bases.length * stride;
    const used = new Set([...this.#live.values()].map((a) => a.chunk));
    if (used.size > 0 && !contiguous(bases, stride)) {
      throw new RangeError(
        "attachShared: dynamic per-CPU chunks can be shared only with contiguous areas",
      );
    }
    for (const chunk of used) {
      const buffer = buffers[chunk.index];
      if (!(buffer instanceof SharedArrayBuffer) || buffer.byteLength < need) {
        throw new RangeError(
          `attachShared: chunk ${chunk.index} of the dynamic per-CPU variables needs a SharedArrayBuffer of ${need} bytes, got ${
            valueText(buffer)
          }`,
        );
      }
    }
    for (const chunk of used) {
      this.#unplace(chunk, "attachShared adopted the creator's dynamic per-CPU chunks");
      this.#place(chunk, bases, [buffers[chunk.index]]);
    }
    for (const allocation of this.#live.values()) this.#locate(allocation);
    this.#deps.host.unmaps = this.#deps.areas.memory.unmaps;
  }

  /**
   * The chunks' memory, for Workers (the areas must be shared).
   *
   * @returns One `SharedArrayBuffer` per chunk, in chunk order.
   */
  shared(): SharedArrayBuffer[] {
    // One entry per chunk, so that indices match; a chunk with no shared
    // memory (no areas) gets an empty buffer, which attachShared refuses.
    return this.#chunks.map((chunk) => {
      const buffer = chunk.regions[0]?.buffer;
      return buffer instanceof SharedArrayBuffer ? buffer : new SharedArrayBuffer(0);
    });
  }

  /**
   * The live objects' places, for Workers to compare.
   *
   * @returns One entry per live object, in allocation order.
   */
  fingerprint(): DynamicFingerprint[] {
    return [...this.#live.values()].map((a) => ({
      name: a.name,
      type: typeName(a.type),
      chunk: a.chunk.index,
      start: a.start,
      size: a.layout.size,
    }));
  }

  #unplace(chunk: Chunk, reason: string): void {
    for (const region of chunk.regions) this.#deps.areas.memory.unmap(region, reason);
    chunk.regions = [];
    chunk.placed = null;
  }

  /** Maps a chunk's units at `base(c) + X`, with `X` where all of them are free. */
  #place(chunk: Chunk, bases: readonly number[], buffers: readonly Backing[]): void {
    const memory = this.#deps.areas.memory;
    const stride = this.#deps.areas.layout.stride;
    chunk.placed = bases;
    chunk.regions = [];
    if (bases.length === 0 || stride === 0) return;
    const name = `alloc_percpu chunk ${chunk.index}`;
    if (contiguous(bases, stride)) {
      const start = memory.free(bases[0], bases.length * stride);
      chunk.offset = start - bases[0];
      chunk.regions = [
        memory.mapFixed(new Region(name, start, buffers[0], 0, bases.length * stride)),
      ];
      return;
    }
    let offset = 0;
    for (let cpu = 0; cpu < bases.length;) {
      const taken = memory.overlapping(bases[cpu] + offset, stride);
      if (taken === null) {
        cpu++;
      } else {
        offset = Math.ceil((taken.end - bases[cpu]) / 64) * 64;
        cpu = 0;
      }
    }
    chunk.offset = offset;
    chunk.regions = bases.map((base, cpu) =>
      memory.mapFixed(new Region(`${name} (CPU ${cpu})`, base + offset, buffers[cpu], 0, stride))
    );
  }

  #objectsOf(chunk: Chunk): Allocation[] {
    return [...this.#live.values()].filter((a) => a.chunk === chunk);
  }

  /** Updates an object's place and pointer for its chunk's current offset. */
  #locate(allocation: Allocation): void {
    const offset = allocation.chunk.offset + allocation.start;
    allocation.place.offset = offset;
    allocation.place.vma = this.#deps.vmaOf(offset);
    this.#writeCell(allocation.cell, offset + this.#deps.areaBias);
  }

  /** Writes objects' initial values into every CPU's unit. */
  #fill(chunk: Chunk, allocations: readonly Allocation[]): void {
    const bases = chunk.placed!;
    const pointerBytes = this.#deps.host.pointerBytes;
    const memory = this.#deps.areas.memory;
    for (const a of allocations) {
      for (const base of bases) {
        const address = base + a.place.offset;
        const region = memory.resolve(address, a.layout.size)!;
        writeValue(a.type, region, address + region.bias, a.init, pointerBytes);
      }
    }
  }

  /**
   * The CPU whose unit holds an address; {@linkcode NOT_PERCPU} for a
   * pointer variable.
   *
   * @param address An address.
   * @returns The CPU id, `NOT_PERCPU`, or −1.
   */
  cpuOfAddress(address: number): number {
    if (this.#cells !== null && this.#cells.contains(address, 1)) return NOT_PERCPU;
    const stride = this.#deps.areas.layout.stride;
    for (const chunk of this.#chunks) {
      const regions = chunk.regions;
      if (regions.length === 1 && chunk.placed!.length > 1) {
        const region = regions[0];
        if (region.contains(address, 1)) return Math.floor((address - region.start) / stride);
      } else {
        for (let cpu = 0; cpu < regions.length; cpu++) {
          if (regions[cpu].contains(address, 1)) return cpu;
        }
      }
    }
    return -1;
  }

  /**
   * Where an object's accessors find the current CPU's copy: the register
   * plus its pointer, resolved on every access.
   *
   * @param allocation The object.
   * @returns The accessors' host.
   */
  cursorFor(allocation: Allocation): CursorHost {
    return new CursorHost(this.#deps, allocation);
  }
}

/**
 * The scalar accessors' view of a dynamic object: `context` is a cursor at
 * the current CPU's copy (the register plus the object's offset), or at no
 * memory when the object was freed or the register points at no area.
 */
class CursorHost {
  readonly #deps: DynamicDeps;
  readonly #allocation: Allocation;
  /** Only `area` and `byte` of it are used: the scalar accessors read those. */
  readonly #cursor: CpuContext;
  #last: Region | null = null;

  constructor(deps: DynamicDeps, allocation: Allocation) {
    this.#deps = deps;
    this.#allocation = allocation;
    this.#cursor = new CpuContext(deps.host.percpuReg, () => {});
  }

  get context(): CpuContext {
    const cursor = this.#cursor;
    const context = this.#deps.register.current;
    const a = this.#allocation;
    if (
      a.freed || context.area === null || context.area.released !== null ||
      a.chunk.placed === null
    ) {
      cursor.area = null;
      return cursor;
    }
    const address = context.reg + this.#deps.areaBias + a.place.offset;
    const size = a.layout.size;
    let region = this.#last;
    if (region === null || !region.contains(address, size)) {
      region = address % a.layout.align === 0
        ? this.#deps.areas.memory.resolve(address, size)
        : null;
      this.#last = region;
    }
    cursor.area = region;
    cursor.byte = region === null ? 0 : address + region.bias;
    return cursor;
  }

  /** Which CPU's copy an address is (for the labels of `withCurrent`'s reference). */
  cpuOfAddress(address: number): number {
    return this.#deps.host.cpuOfAddress(address);
  }

  fault(_cursor: CpuContext, who: string): FaultError {
    const a = this.#allocation;
    if (a.freed) return freedFault(a.name, who);
    const context = this.#deps.register.current;
    if (context.area === null || context.area.released !== null || a.chunk.placed === null) {
      return this.#deps.register.fault(context, who);
    }
    const address = context.reg + this.#deps.areaBias + a.place.offset;
    return new FaultError(
      address,
      `${who}: ${a.layout.size} bytes at ${
        hex(address)
      } (the per-CPU register plus ${a.name}) are not mapped`,
    );
  }
}

function freedFault(name: string, who: string): FaultError {
  return new FaultError(
    POISON,
    `${who}: ${name} was freed with free(); a freed dynamic per-CPU variable cannot be used`,
  );
}

/**
 * A dynamically allocated per-CPU variable: a {@linkcode PercpuVariable}
 * whose place follows its chunk, plus `free()`.
 */
export class DynamicPercpuVariable<T extends Type = Type> extends PercpuVariable<T>
  implements DynamicPercpuVar<T> {
  readonly #owner: DynamicAreas;
  readonly #allocation: Allocation;

  /**
   * Creates the variable of an allocation.
   *
   * @param owner The allocator.
   * @param deps Its system.
   * @param allocation Where it is (and its name).
   */
  constructor(owner: DynamicAreas, deps: DynamicDeps, allocation: Allocation) {
    const host = deps.host;
    const name = allocation.name;
    const place: VarPlace = allocation.place;
    super({
      host,
      name,
      symbol: name,
      type: allocation.type as T,
      initValue: allocation.init as ValueOf<T>,
      layout: allocation.layout,
      place,
      forms: "dynamic",
      symbols: () => ({
        symbol: name,
        vma: allocation.cell,
        loadStart: deps.areaBias === 0 ? null : deps.areaBias,
        selfPtrVma: host.selfPtrVma,
        percpuReg: host.percpuReg,
      }),
      current: owner.cursorFor(allocation),
      currentOffset: 0,
    });
    this.#owner = owner;
    this.#allocation = allocation;
    registerPrograms(this, (op, options) => this.program(op, options));
  }

  get freed(): boolean {
    return this.#allocation.freed;
  }

  free(): void {
    this.#live("free");
    this.#owner.free(this);
  }

  #live(what: string): void {
    if (this.#allocation.freed) throw freedFault(this.name, `${this.name}.${what}`);
  }

  override offset(): number {
    this.#live("offset");
    return super.offset();
  }

  override symbolVma(): number {
    this.#live("symbolVma");
    return super.symbolVma();
  }

  override currentPtr(): number {
    this.#live("currentPtr");
    return super.currentPtr();
  }

  override remotePtr(cpu: number): number {
    this.#live("remotePtr");
    return super.remotePtr(cpu);
  }

  override program(op: AccessOp, options?: ProgramOptions): AccessProgram {
    this.#live("disassemble");
    return super.program(op, options);
  }
}
