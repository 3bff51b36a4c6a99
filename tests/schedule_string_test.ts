// Schedule strings: a string is replayed as exactly the run that wrote it,
// or refused with a clear error; never replayed as another run. Decoding
// is bounded by the string's length; only the canonical form is accepted;
// strings of an earlier version are refused as such; hostile values too.

import assert from "node:assert/strict";
import fc from "fast-check";
import { createPercpu, u64 } from "../mod.ts";
import { checkDfs, checkRandom, counterTest, type ExploreTest, replay } from "../sched/mod.ts";
import { decodeSchedule } from "../sched/explore/schedule.ts";
import { createSession } from "../sched/explore/session.ts";

/** CRC-32 (IEEE), written again here so the format is checked from outside. */
function crc32(text: string): number {
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    crc ^= text.charCodeAt(i);
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A body with the check the format asks for: what a forger would have to write. */
function sealed(body: string): string {
  return `${body}.${crc32(body).toString(36).padStart(7, "0")}${body.length.toString(36)}`;
}

function readModifyWrite(): ExploreTest {
  const percpu = createPercpu({ arch: "riscv64" });
  const counter = percpu.defPercpu("EVENTS", u64, 0n);
  return {
    name: "read-modify-write",
    percpu,
    cpus: 2,
    spawn(machine) {
      for (let i = 0; i < 3; i++) {
        machine.spawn(function* (ctx) {
          const value = yield* ctx.read(counter, { raw: true });
          yield* ctx.write(counter, value + 1n, { raw: true });
        });
      }
    },
    check: () => {
      const sum = counter.remoteRefRaw(0).value + counter.remoteRefRaw(1).value;
      return sum === 3n ? null : `sum is ${sum}, expected 3`;
    },
    allowWrongCpu: true,
  };
}

interface Sample {
  readonly what: string;
  readonly test: ExploreTest;
  readonly schedule: string;
  readonly traceHash: string;
}

/** Valid schedule strings, from the explorers and a hand-driven session. */
function samples(): Sample[] {
  const out: Sample[] = [];
  const add = (what: string, test: ExploreTest, schedule: string) => {
    out.push({ what, test, schedule, traceHash: replay(test, schedule).stats.traceHash });
  };
  const aarch64 = counterTest({ arch: "aarch64" });
  for (const v of checkDfs(aarch64, { exhaustive: true }).violations) {
    add(`checkDfs aarch64 ${v.kind}`, aarch64, v.schedule);
  }
  const rmw = readModifyWrite();
  add("checkDfs read-modify-write", rmw, checkDfs(rmw).violation!.schedule);
  const twice = counterTest({ arch: "x86_64", iters: 2 });
  add(
    "checkRandom x86_64 3x2",
    twice,
    checkRandom(twice, { seed: 7, budget: 5000, maxPreemptions: 3 }).violation!.schedule,
  );
  // A run with no violation, chosen by hand: ticks wherever offered.
  const guarded = counterTest({ arch: "riscv64", features: ["preempt"] });
  const session = createSession({ test: guarded, maxPreemptions: 3 });
  for (let n = 0; !session.done; n++) {
    const cpus = session.steppable();
    const cpu = cpus[n % cpus.length];
    session.step(cpu, { tick: session.offers(cpu).tick && n % 3 === 0 });
  }
  add("session riscv64 preempt", guarded, session.schedule());
  return out;
}

const SAMPLES = samples();
/** Every character a schedule string uses, and a few it never does. */
const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz.=,-+_ sABZ\u00e9\u{1f600}";

/** Either refused with a clear error, or the identical run. */
function refusedOrSame(sample: Sample, edited: string): "refused" | "same" {
  let hash: string;
  try {
    hash = replay(sample.test, edited, { record: false }).stats.traceHash;
  } catch (error) {
    assert.ok(
      error instanceof SyntaxError || error instanceof RangeError,
      `${sample.what}: ${JSON.stringify(edited)} threw ${error}`,
    );
    assert.match(error.message, /schedule/, `an unclear message: ${error.message}`);
    return "refused";
  }
  assert.equal(hash, sample.traceHash, `${sample.what}: ${JSON.stringify(edited)} ran another run`);
  return "same";
}

Deno.test("the samples replay bit for bit", () => {
  assert.ok(SAMPLES.length >= 5);
  for (const sample of SAMPLES) {
    assert.match(sample.schedule, /^s2\./);
    assert.equal(refusedOrSame(sample, sample.schedule), "same");
  }
});

Deno.test("every single-character edit, deletion, insertion and truncation is refused or the same run", () => {
  for (const sample of SAMPLES) {
    const s = sample.schedule;
    const edits = new Set<string>();
    for (let i = 0; i <= s.length; i++) {
      if (i < s.length) {
        edits.add(s.slice(0, i) + s.slice(i + 1));
        for (const c of ALPHABET) edits.add(s.slice(0, i) + c + s.slice(i + 1));
      }
      for (const c of ALPHABET) edits.add(s.slice(0, i) + c + s.slice(i));
      edits.add(s.slice(0, i));
    }
    edits.delete(s);
    let same = 0;
    for (const edited of edits) {
      if (refusedOrSame(sample, edited) === "same") {
        same++;
        // Only surrounding white space can be added without changing the string.
        assert.equal(edited.trim(), s, JSON.stringify(edited));
      }
    }
    assert.equal(same, 2, `${sample.what}: only a leading or trailing space replays`);
  }
});

Deno.test("random multi-character edits are refused or the same run (fast-check)", () => {
  const edit = fc.record({
    at: fc.nat(),
    remove: fc.nat({ max: 4 }),
    insert: fc.string({ unit: fc.constantFrom(...ALPHABET), maxLength: 4 }),
  });
  fc.assert(
    fc.property(
      fc.constantFrom(...SAMPLES),
      fc.array(edit, { minLength: 1, maxLength: 4 }),
      (sample, edits) => {
        let s = sample.schedule;
        for (const { at, remove, insert } of edits) {
          const i = at % (s.length + 1);
          s = s.slice(0, i) + insert + s.slice(i + remove);
        }
        if (s.trim() !== sample.schedule) assert.equal(refusedOrSame(sample, s), "refused", s);
      },
    ),
    { numRuns: 3000 },
  );
});

Deno.test("arbitrary text is refused as a schedule string (fast-check)", () => {
  fc.assert(
    fc.property(
      fc.oneof(
        fc.string(),
        fc.string({ unit: "grapheme" }),
        fc.string({
          unit: fc.constantFrom(..."s2.0123456789abcdefz=,"),
        }),
      ),
      (text) => {
        assert.throws(() => decodeSchedule(text), (e: unknown) => {
          assert.ok(e instanceof SyntaxError || e instanceof RangeError, String(e));
          return true;
        });
      },
    ),
    { numRuns: 2000 },
  );
});

Deno.test("decoding is bounded by the string, before allocating", async (t) => {
  const test = SAMPLES[0].test;
  const fingerprint = SAMPLES[0].schedule.split(".")[1];
  const time = (f: () => void) => {
    const start = performance.now();
    f();
    return performance.now() - start;
  };
  await t.step("counts claimed far beyond the string are not allocated", () => {
    // Canonical and correctly sealed, claiming 3.6e15 steps and choice points.
    const huge = sealed(`s2.${fingerprint}.2.zzzzzzzzzz.zzzzzzzzzz.zzzzzzzzz=1`);
    const decoded = decodeSchedule(huge);
    assert.equal(decoded.length, 36 ** 10 - 1);
    assert.deepEqual(decoded.positions, [36 ** 9 - 1]);
    for (const run of [() => replay(test, huge), () => createSession({ test, schedule: huge })]) {
      const ms = time(() =>
        assert.throws(
          run,
          (e: unknown) => e instanceof RangeError && /does not fit/.test(e.message),
        )
      );
      assert.ok(ms < 5_000, `${ms} ms`);
    }
    // Eleven digits would pass 2^53: refused.
    assert.throws(
      () => decodeSchedule(sealed(`s2.${fingerprint}.2.zzzzzzzzzzz.1.`)),
      /bad step or choice count/,
    );
  });
  await t.step("the old s1 string that took seconds and a gigabyte", () => {
    const ms = time(() =>
      assert.throws(
        () => replay(test, "s1.abcdef.2.zzzzzz."),
        (e: unknown) => e instanceof RangeError && /earlier version/.test(e.message),
      )
    );
    assert.ok(ms < 1_000, `${ms} ms`);
  });
  await t.step("a megabyte of text is refused at once", () => {
    for (
      const text of [
        "s2." + "z".repeat(1 << 20),
        SAMPLES[0].schedule + "0".repeat(1 << 20),
        sealed(`s2.${fingerprint}.2.9.zzzz.` + "1=1,".repeat(1 << 18) + "2=1"),
        "\u{1f600}".repeat(1 << 19),
        "s2." + "1=1,".repeat(1 << 20),
        "x".repeat(5_000_000),
      ]
    ) {
      const ms = time(() => assert.throws(() => decodeSchedule(text), SyntaxError));
      assert.ok(ms < 2_000, `${ms} ms for ${text.length} characters`);
    }
  });
});

Deno.test("only the canonical form is accepted, even correctly sealed", () => {
  const f = SAMPLES[0].schedule.split(".")[1];
  const cases: [string, RegExp][] = [
    [`s2.${f}.2.9.9.3=1,2=1`, /positions out of order or repeated/],
    [`s2.${f}.2.9.9.2=1,2=2`, /positions out of order or repeated/],
    [`s2.${f}.2.9.9.2=0`, /a 0 choice is never written/],
    [`s2.${f}.2.9.9.02=1`, /bad pair/],
    [`s2.${f}.2.9.9.2=01`, /bad pair/],
    [`s2.${f}.2.09.9.`, /bad step or choice count/],
    [`s2.${f}.02.9.9.`, /bad preemption bound/],
    [`s2.${f}.Infinity.9.9.`, /bad preemption bound/],
    [`s2.${f}.2.9.9.2=1,`, /bad pair/],
    [`s2.${f}.2.9.9.,2=1`, /bad pair/],
    [`s2.${f}.2.9.9.2=A`, /bad pair/],
    [`s2.${f}.2.9.9.9=1`, /position 9 beyond 9 choice points/],
    [`s2.${f}.2.9.9.2=1.x`, /wrong number of fields/],
    [`s2.${f.toUpperCase()}.2.9.9.`, /bad test fingerprint/],
    [`s2.${f}.2.-9.9.`, /bad step or choice count/],
    [`s2.${f}.2.9.9.2==1`, /bad pair/],
  ];
  for (const [body, message] of cases) {
    assert.throws(() => decodeSchedule(sealed(body)), (e: unknown) => {
      assert.ok(e instanceof SyntaxError, `${body}: ${e}`);
      assert.match(e.message, message);
      assert.match(e.message, /expected s2\.<test>/, "the message shows the format");
      return true;
    });
  }
  // The same content written canonically is accepted.
  assert.deepEqual(decodeSchedule(sealed(`s2.${f}.2.9.9.2=1,3=2`)).values, [1, 2]);
});

Deno.test("s1 strings are refused: they came from an earlier version", () => {
  for (const text of ["s1.k3v9x2.2.1c.7=1,8=1", "  s1.abcdef.2.zzzzzz.", "s1."]) {
    for (
      const run of [
        () => decodeSchedule(text),
        () => replay(SAMPLES[0].test, text),
        () => createSession({ test: SAMPLES[0].test, schedule: text }),
      ]
    ) {
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof RangeError, String(e));
        assert.match(e.message, /s1 schedule string, written by an earlier version/);
        assert.match(e.message, /explore again to get an s2 string/);
        return true;
      });
    }
  }
});

Deno.test("hostile values where a schedule string is expected", () => {
  const { test, schedule } = SAMPLES[0];
  const trap = new Proxy({}, {
    get() {
      throw new Error("trap");
    },
    getPrototypeOf() {
      throw new Error("trap");
    },
  });
  const revocable = Proxy.revocable({}, {});
  revocable.revoke();
  const hostile: unknown[] = [
    undefined,
    null,
    42,
    1n,
    true,
    Symbol("s2"),
    {},
    [schedule],
    new String(schedule),
    { toString: () => schedule },
    trap,
    revocable.proxy,
    new Proxy(new String(schedule), {}),
    () => schedule,
  ];
  for (const value of hostile) {
    const isSymbol = typeof value === "symbol";
    for (
      const run of [
        () => decodeSchedule(value as string),
        () => replay(test, value as string),
        // An undefined schedule is no schedule: a session from the start.
        ...(value === undefined ? [] : [() => createSession({ test, schedule: value as string })]),
      ]
    ) {
      assert.throws(run, (e: unknown) => {
        assert.ok(e instanceof TypeError, `${isSymbol ? "symbol" : typeof value}: ${e}`);
        assert.match(e.message, /schedule must be a string, got /);
        assert.doesNotMatch(e.message, /trap/);
        return true;
      });
    }
  }
  // Unicode and control characters are refused as text, not crashed on.
  for (const text of ["s2.\u00e9", "\u0000", "s2.\u{1f600}.2.9.9..", `${schedule}\u200b`]) {
    assert.throws(() => replay(test, text), SyntaxError);
    assert.throws(() => createSession({ test, schedule: text }), SyntaxError);
  }
  // Nothing refused changed what the valid string replays.
  assert.equal(replay(test, schedule).stats.traceHash, SAMPLES[0].traceHash);
});
