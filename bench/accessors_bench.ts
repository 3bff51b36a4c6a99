/**
 * The scalar accessors and `withCurrent` against the physical limit in
 * JavaScript: a raw `Uint32Array` / `BigUint64Array` element access at a
 * precomputed index into the same memory (the `baseline` of every group).
 *
 * Each access is measured once per iteration and, because one access is
 * close to the harness's own per-iteration cost, also 1000 times per
 * iteration: the `×1000` groups are the ones to read the accessor cost from
 * (a raw access in a loop is well under a nanosecond, so anything that is
 * not inlined to a few instructions shows there as a large factor). Every
 * variant runs with the `preempt` feature off and on (`preempt` with a
 * counting `KernelGuardIf` installed, as a kernel would).
 *
 * The groups the project's goals refer to: `u32 read+write ×1000`
 * (`writeCurrent((readCurrent() + 1) >>> 0)` in a loop, goal ≤ 1.5× the raw
 * read-modify-write) and `u32 RMW` (one `withCurrent(ref => …)` call, goal
 * ≤ 3× one raw read-modify-write).
 *
 *     deno bench bench/accessors_bench.ts
 *
 * @module
 */

import {
  array,
  createPercpu,
  type PercpuVar,
  type ScalarKind,
  type ScalarPercpuVar,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { type KernelGuardIf, setKernelGuardIf } from "../lib/guards.ts";
import { SCALAR_TYPES } from "../lib/types.ts";
import { portOf } from "../lib/_port.ts";
import { makeRef } from "../lib/refs.ts";

const LOOP = 1000;

// A program rarely uses only u32 and u64. Run every scalar kind through one
// shared call site first, so that any code the accessors share across kinds
// has seen all of them (as it would in a real program) and no group below
// profits from type feedback that knows only two kinds.
{
  const p = createPercpu();
  const kinds = Object.keys(SCALAR_TYPES) as ScalarKind[];
  const vars = kinds.map((kind) => {
    const big = kind === "u64" || kind === "i64";
    const init = kind === "bool" ? false : big ? 0n : 0;
    return p.defPercpu(`WARM_${kind}`, SCALAR_TYPES[kind], init as never) as ScalarPercpuVar;
  });
  p.init(2);
  p.initPercpuReg(1);
  const exercise = (v: ScalarPercpuVar, value: unknown, delta: unknown) => {
    v.writeCurrent(value as never);
    if (delta !== null) v.addCurrent(delta as never);
    (v as PercpuVar).withCurrent((ref) => ref.value);
    return v.readCurrent();
  };
  for (let i = 0; i < 20_000; i++) {
    for (const v of vars) {
      const kind = v.type.kind;
      if (kind === "bool") exercise(v, true, null);
      else if (kind === "u64" || kind === "i64") exercise(v, 1n, 1n);
      else exercise(v, 1, 1);
    }
  }
}

function system(preempt: boolean) {
  const p = createPercpu({ features: preempt ? ["preempt"] : [] });
  const small = p.defPercpu("SMALL", u32, 0);
  const big = p.defPercpu("BIG", u64, 0n);
  p.init(4);
  p.initPercpuReg(1);
  const region = portOf(p).memory.resolve(small.currentPtr(), 4)!;
  return {
    small,
    big,
    smallIndex: (small.currentPtr() + region.bias) >>> 2,
    bigIndex: (big.currentPtr() + region.bias) >>> 3,
    words: region.u32,
    bigWords: region.u64,
  };
}

const plain = system(false);
const guarded = system(true);

let depth = 0;
const counting: KernelGuardIf = {
  disablePreempt: () => void depth++,
  enablePreempt: () => void depth--,
};
setKernelGuardIf(counting);

/**
 * Registers a benchmark after running it a few thousand times, so that every
 * variant is measured in optimised code: Deno.bench measures a function soon
 * after its first call, and whichever accessor benchmark of a group ran
 * first was otherwise sometimes still waiting for V8's optimising compiler
 * (up to 5× slower than the same function measured right after it).
 */
function bench(name: string, options: Omit<Deno.BenchDefinition, "fn" | "name">, fn: () => void) {
  for (let i = 0; i < WARMUP; i++) fn();
  Deno.bench(name, options, fn);
}
const WARMUP = 2000;

// Results go here so no loop is dead code.
let sinkNumber = 0;
const sink = { big: 0n };

const { words, smallIndex, bigWords, bigIndex } = plain;

// ---- u32 read ----
bench("raw Uint32Array read", { group: "u32 read", baseline: true }, () => {
  sinkNumber += words[smallIndex];
});
bench("readCurrent", { group: "u32 read" }, () => {
  sinkNumber += plain.small.readCurrent();
});
bench("readCurrent (preempt)", { group: "u32 read" }, () => {
  sinkNumber += guarded.small.readCurrent();
});

bench("raw Uint32Array read ×1000", { group: "u32 read ×1000", baseline: true }, () => {
  let s = 0;
  for (let i = 0; i < LOOP; i++) s += words[smallIndex];
  sinkNumber += s;
});
bench("readCurrent ×1000", { group: "u32 read ×1000" }, () => {
  const v = plain.small;
  let s = 0;
  for (let i = 0; i < LOOP; i++) s += v.readCurrent();
  sinkNumber += s;
});
bench("readCurrentRaw ×1000", { group: "u32 read ×1000" }, () => {
  const v = plain.small;
  let s = 0;
  for (let i = 0; i < LOOP; i++) s += v.readCurrentRaw();
  sinkNumber += s;
});
bench("readCurrent (preempt) ×1000", { group: "u32 read ×1000" }, () => {
  const v = guarded.small;
  let s = 0;
  for (let i = 0; i < LOOP; i++) s += v.readCurrent();
  sinkNumber += s;
});

// ---- u32 write ----
bench("raw Uint32Array write", { group: "u32 write", baseline: true }, () => {
  words[smallIndex] = sinkNumber & 0xffff;
});
bench("writeCurrent", { group: "u32 write" }, () => {
  plain.small.writeCurrent(sinkNumber & 0xffff);
});
bench("writeCurrent (preempt)", { group: "u32 write" }, () => {
  guarded.small.writeCurrent(sinkNumber & 0xffff);
});

bench("raw Uint32Array write ×1000", { group: "u32 write ×1000", baseline: true }, () => {
  for (let i = 0; i < LOOP; i++) words[smallIndex] = i;
});
bench("writeCurrent ×1000", { group: "u32 write ×1000" }, () => {
  const v = plain.small;
  for (let i = 0; i < LOOP; i++) v.writeCurrent(i);
});
bench("writeCurrentRaw ×1000", { group: "u32 write ×1000" }, () => {
  const v = plain.small;
  for (let i = 0; i < LOOP; i++) v.writeCurrentRaw(i);
});
bench("writeCurrent (preempt) ×1000", { group: "u32 write ×1000" }, () => {
  const v = guarded.small;
  for (let i = 0; i < LOOP; i++) v.writeCurrent(i);
});

// Values the compiler cannot range-check ahead of time.
const VALUES = Array.from({ length: LOOP }, (_, i) => (i * 4_000_037) >>> 0);

bench("raw Uint32Array write of array values ×1000", {
  group: "u32 write of unknown values ×1000",
  baseline: true,
}, () => {
  for (let i = 0; i < LOOP; i++) words[smallIndex] = VALUES[i];
});
bench("writeCurrent of array values ×1000", {
  group: "u32 write of unknown values ×1000",
}, () => {
  const v = plain.small;
  for (let i = 0; i < LOOP; i++) v.writeCurrent(VALUES[i]);
});

// ---- u32 read-modify-write through readCurrent and writeCurrent ----
// What code without addCurrent writes: two accessor calls per update.
bench("raw Uint32Array RMW (>>> 0)", { group: "u32 read+write", baseline: true }, () => {
  words[smallIndex] = (words[smallIndex] + 1) >>> 0;
});
bench("writeCurrent((readCurrent() + 1) >>> 0)", { group: "u32 read+write" }, () => {
  const v = plain.small;
  v.writeCurrent((v.readCurrent() + 1) >>> 0);
});
bench("writeCurrent((readCurrent() + 1) >>> 0) (preempt)", {
  group: "u32 read+write",
}, () => {
  const v = guarded.small;
  v.writeCurrent((v.readCurrent() + 1) >>> 0);
});

bench("raw Uint32Array RMW (>>> 0) ×1000", {
  group: "u32 read+write ×1000",
  baseline: true,
}, () => {
  for (let i = 0; i < LOOP; i++) words[smallIndex] = (words[smallIndex] + 1) >>> 0;
});
bench("writeCurrent((readCurrent() + 1) >>> 0) ×1000", {
  group: "u32 read+write ×1000",
}, () => {
  const v = plain.small;
  for (let i = 0; i < LOOP; i++) v.writeCurrent((v.readCurrent() + 1) >>> 0);
});
bench("writeCurrentRaw((readCurrentRaw() + 1) >>> 0) ×1000", {
  group: "u32 read+write ×1000",
}, () => {
  const v = plain.small;
  for (let i = 0; i < LOOP; i++) v.writeCurrentRaw((v.readCurrentRaw() + 1) >>> 0);
});

// ---- u32 read-modify-write ----
// The ×1000 loops start from 0 so that `ref.value + 1` never leaves the u32
// range, which withCurrent would reject (the raw store would wrap).
bench("raw Uint32Array RMW", { group: "u32 RMW", baseline: true }, () => {
  words[smallIndex] = words[smallIndex] + 1;
});
bench("withCurrent(ref.value + 1)", { group: "u32 RMW" }, () => {
  plain.small.withCurrent((ref) => {
    ref.value = ref.value + 1;
  });
});
bench("addCurrent(1)", { group: "u32 RMW" }, () => {
  plain.small.addCurrent(1);
});
bench("withCurrent (preempt)", { group: "u32 RMW" }, () => {
  guarded.small.withCurrent((ref) => {
    ref.value = ref.value + 1;
  });
});
bench("addCurrent(1) (preempt)", { group: "u32 RMW" }, () => {
  guarded.small.addCurrent(1);
});

bench("raw Uint32Array RMW ×1000", { group: "u32 RMW ×1000", baseline: true }, () => {
  words[smallIndex] = 0;
  for (let i = 0; i < LOOP; i++) words[smallIndex] = words[smallIndex] + 1;
});
bench("withCurrent(ref.value + 1) ×1000", { group: "u32 RMW ×1000" }, () => {
  const v = plain.small;
  words[smallIndex] = 0;
  for (let i = 0; i < LOOP; i++) {
    v.withCurrent((ref) => {
      ref.value = ref.value + 1;
    });
  }
});
bench("addCurrent(1) ×1000", { group: "u32 RMW ×1000" }, () => {
  const v = plain.small;
  words[smallIndex] = 0;
  for (let i = 0; i < LOOP; i++) v.addCurrent(1);
});
bench("addCurrentRaw(1) ×1000", { group: "u32 RMW ×1000" }, () => {
  const v = plain.small;
  words[smallIndex] = 0;
  for (let i = 0; i < LOOP; i++) v.addCurrentRaw(1);
});
bench("withCurrent (preempt) ×1000", { group: "u32 RMW ×1000" }, () => {
  const v = guarded.small;
  guarded.words[guarded.smallIndex] = 0;
  for (let i = 0; i < LOOP; i++) {
    v.withCurrent((ref) => {
      ref.value = ref.value + 1;
    });
  }
});
bench("addCurrent(1) (preempt) ×1000", { group: "u32 RMW ×1000" }, () => {
  const v = guarded.small;
  guarded.words[guarded.smallIndex] = 0;
  for (let i = 0; i < LOOP; i++) v.addCurrent(1);
});

// ---- u64 read ----
bench("raw BigUint64Array read", { group: "u64 read", baseline: true }, () => {
  sink.big = bigWords[bigIndex];
});
bench("readCurrent", { group: "u64 read" }, () => {
  sink.big = plain.big.readCurrent();
});
bench("readCurrent (preempt)", { group: "u64 read" }, () => {
  sink.big = guarded.big.readCurrent();
});

bench("raw BigUint64Array read ×1000", { group: "u64 read ×1000", baseline: true }, () => {
  let s = 0n;
  for (let i = 0; i < LOOP; i++) s = bigWords[bigIndex];
  sink.big = s;
});
bench("readCurrent ×1000", { group: "u64 read ×1000" }, () => {
  const v = plain.big;
  let s = 0n;
  for (let i = 0; i < LOOP; i++) s = v.readCurrent();
  sink.big = s;
});
bench("readCurrentRaw ×1000", { group: "u64 read ×1000" }, () => {
  const v = plain.big;
  let s = 0n;
  for (let i = 0; i < LOOP; i++) s = v.readCurrentRaw();
  sink.big = s;
});
bench("readCurrent (preempt) ×1000", { group: "u64 read ×1000" }, () => {
  const v = guarded.big;
  let s = 0n;
  for (let i = 0; i < LOOP; i++) s = v.readCurrent();
  sink.big = s;
});

// ---- u64 write ----
const BIG_VALUES = Array.from({ length: LOOP }, (_, i) => BigInt(i) << 20n);

bench("raw BigUint64Array write", { group: "u64 write", baseline: true }, () => {
  bigWords[bigIndex] = BIG_VALUES[sinkNumber & 511];
});
bench("writeCurrent", { group: "u64 write" }, () => {
  plain.big.writeCurrent(BIG_VALUES[sinkNumber & 511]);
});
bench("writeCurrent (preempt)", { group: "u64 write" }, () => {
  guarded.big.writeCurrent(BIG_VALUES[sinkNumber & 511]);
});

bench("raw BigUint64Array write ×1000", { group: "u64 write ×1000", baseline: true }, () => {
  for (let i = 0; i < LOOP; i++) bigWords[bigIndex] = BIG_VALUES[i];
});
bench("writeCurrent ×1000", { group: "u64 write ×1000" }, () => {
  const v = plain.big;
  for (let i = 0; i < LOOP; i++) v.writeCurrent(BIG_VALUES[i]);
});
bench("writeCurrentRaw ×1000", { group: "u64 write ×1000" }, () => {
  const v = plain.big;
  for (let i = 0; i < LOOP; i++) v.writeCurrentRaw(BIG_VALUES[i]);
});
bench("writeCurrent (preempt) ×1000", { group: "u64 write ×1000" }, () => {
  const v = guarded.big;
  for (let i = 0; i < LOOP; i++) v.writeCurrent(BIG_VALUES[i]);
});

// ---- u64 read-modify-write ----
bench("raw BigUint64Array RMW", { group: "u64 RMW", baseline: true }, () => {
  bigWords[bigIndex] = bigWords[bigIndex] + 1n;
});
bench("withCurrent(ref.value + 1n)", { group: "u64 RMW" }, () => {
  plain.big.withCurrent((ref) => {
    ref.value = ref.value + 1n;
  });
});
bench("addCurrent(1n)", { group: "u64 RMW" }, () => {
  plain.big.addCurrent(1n);
});
bench("withCurrent (preempt)", { group: "u64 RMW" }, () => {
  guarded.big.withCurrent((ref) => {
    ref.value = ref.value + 1n;
  });
});
bench("addCurrent(1n) (preempt)", { group: "u64 RMW" }, () => {
  guarded.big.addCurrent(1n);
});

bench("raw BigUint64Array RMW ×1000", { group: "u64 RMW ×1000", baseline: true }, () => {
  for (let i = 0; i < LOOP; i++) bigWords[bigIndex] = bigWords[bigIndex] + 1n;
});
bench("withCurrent(ref.value + 1n) ×1000", { group: "u64 RMW ×1000" }, () => {
  const v = plain.big;
  for (let i = 0; i < LOOP; i++) {
    v.withCurrent((ref) => {
      ref.value = ref.value + 1n;
    });
  }
});
bench("addCurrent(1n) ×1000", { group: "u64 RMW ×1000" }, () => {
  const v = plain.big;
  for (let i = 0; i < LOOP; i++) v.addCurrent(1n);
});
bench("addCurrentRaw(1n) ×1000", { group: "u64 RMW ×1000" }, () => {
  const v = plain.big;
  for (let i = 0; i < LOOP; i++) v.addCurrentRaw(1n);
});
bench("withCurrent (preempt) ×1000", { group: "u64 RMW ×1000" }, () => {
  const v = guarded.big;
  for (let i = 0; i < LOOP; i++) {
    v.withCurrent((ref) => {
      ref.value = ref.value + 1n;
    });
  }
});
bench("addCurrent(1n) (preempt) ×1000", { group: "u64 RMW ×1000" }, () => {
  const v = guarded.big;
  for (let i = 0; i < LOOP; i++) v.addCurrent(1n);
});

// ---- a 1 MiB array variable: the first .value of a ref, and a one-byte update ----
// A variable caches its refs per address and a ref its view, so a repeated
// `.value` is a cache hit. To measure the first `.value` on every iteration,
// each one makes a fresh ref to CPU 0's copy, as `remoteRefRaw(0)` does the
// first time.
const MIB = 2 ** 20;
const large = (() => {
  const p = createPercpu();
  const bytes = p.defPercpu("BYTES", array(u8, MIB), new Array(MIB).fill(0));
  p.init(2);
  p.initPercpuReg(1);
  const address = bytes.remotePtr(0);
  const region = portOf(p).memory.resolve(address, MIB)!;
  return { bytes, region, address, byte: address + region.bias };
})();

bench("a Uint8Array over the same MiB", {
  group: "1 MiB array: first .value",
  baseline: true,
}, () => {
  sinkNumber += new Uint8Array(large.region.buffer, large.byte, MIB).length;
});
bench("first .value of a fresh ref", { group: "1 MiB array: first .value" }, () => {
  const ref = makeRef({
    type: large.bytes.type,
    region: large.region,
    address: large.address,
    pointerBytes: 8,
    label: "BYTES",
  }, false);
  sinkNumber += (ref.value as number[]).length;
});

bench("raw Uint8Array one-byte update", {
  group: "1 MiB array: one-byte update",
  baseline: true,
}, () => {
  const view = large.region.u8;
  view[large.byte + 12345] = (view[large.byte + 12345] + 1) & 0xff;
});
bench("withCurrent(ref => ref.value[i] = …)", {
  group: "1 MiB array: one-byte update",
}, () => {
  large.bytes.withCurrent((ref) => {
    ref.value[12345] = (ref.value[12345] + 1) & 0xff;
  });
});
