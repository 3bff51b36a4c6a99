// kernel_guard semantics and the `preempt` feature's use of
// them: which accessors take a NoPreempt guard, exactly once, and always
// give it back.

import assert from "node:assert/strict";
import {
  type Arch,
  ARCHES,
  array,
  createPercpu,
  FaultError,
  type Feature,
  type Percpu,
  struct,
  u32,
  u64,
  u8,
} from "../mod.ts";
import { defPercpuCounter } from "../lib/workers/mod.ts";
import {
  IrqSave,
  type KernelGuardIf,
  kernelGuardIf,
  NoOp,
  NoPreempt,
  NoPreemptIrqSave,
  setKernelGuardIf,
} from "../lib/guards.ts";

/** A kernel that records every call and tracks preempt depth and IRQ state. */
class RecordingKernel implements KernelGuardIf {
  readonly calls: string[] = [];
  depth = 0;
  irqsEnabled = true;
  onDisable: () => void = () => {};

  disablePreempt(): void {
    this.calls.push("disablePreempt");
    this.depth++;
    this.onDisable();
  }

  enablePreempt(): void {
    this.calls.push("enablePreempt");
    assert.ok(this.depth > 0, "enablePreempt underflows the preempt count");
    this.depth--;
  }

  localIrqSaveAndDisable(): number {
    const saved = this.irqsEnabled ? 1 : 0;
    this.calls.push(`localIrqSaveAndDisable -> ${saved}`);
    this.irqsEnabled = false;
    return saved;
  }

  localIrqRestore(state: number): void {
    this.calls.push(`localIrqRestore(${state})`);
    this.irqsEnabled = state === 1;
  }
}

/** Runs `f` with `kernel` installed, restoring the previous interface after. */
function withKernel<T>(kernel: KernelGuardIf | null, f: () => T): T {
  const previous = setKernelGuardIf(kernel);
  try {
    return f();
  } finally {
    setKernelGuardIf(previous);
  }
}

Deno.test("each guard acquires and releases in kernel_guard's order", async (t) => {
  const cases: [string, () => Disposable, string[]][] = [
    ["NoOp", () => new NoOp(), []],
    ["IrqSave", () => new IrqSave(), ["localIrqSaveAndDisable -> 1", "localIrqRestore(1)"]],
    ["NoPreempt", () => new NoPreempt(), ["disablePreempt", "enablePreempt"]],
    ["NoPreemptIrqSave", () => new NoPreemptIrqSave(), [
      "disablePreempt",
      "localIrqSaveAndDisable -> 1",
      "localIrqRestore(1)",
      "enablePreempt",
    ]],
  ];
  for (const [name, make, expected] of cases) {
    await t.step(name, () => {
      const kernel = new RecordingKernel();
      withKernel(kernel, () => {
        const guard = make();
        const acquired = kernel.calls.length;
        guard[Symbol.dispose]();
        assert.deepEqual(kernel.calls, expected);
        assert.equal(acquired, expected.length / 2, "half the calls happen on acquire");
      });
      assert.equal(kernel.depth, 0);
      assert.equal(kernel.irqsEnabled, true);
    });
  }
});

Deno.test("the static BaseGuard acquire/release pair follows the same order", () => {
  const kernel = new RecordingKernel();
  withKernel(kernel, () => {
    const state = NoPreemptIrqSave.acquire();
    assert.equal(kernel.irqsEnabled, false);
    NoPreemptIrqSave.release(state);
    const irq = IrqSave.acquire();
    IrqSave.release(irq);
    NoPreempt.release(NoPreempt.acquire());
    NoOp.release(NoOp.acquire());
  });
  assert.deepEqual(kernel.calls, [
    "disablePreempt",
    "localIrqSaveAndDisable -> 1",
    "localIrqRestore(1)",
    "enablePreempt",
    "localIrqSaveAndDisable -> 1",
    "localIrqRestore(1)",
    "disablePreempt",
    "enablePreempt",
  ]);
});

Deno.test("nested IrqSave restores the state each level saved", () => {
  const kernel = new RecordingKernel();
  withKernel(kernel, () => {
    using _outer = new IrqSave();
    {
      using _inner = new IrqSave();
      assert.equal(kernel.irqsEnabled, false);
    }
    // The inner guard saved "disabled", so IRQs stay off until the outer one.
    assert.equal(kernel.irqsEnabled, false);
  });
  assert.equal(kernel.irqsEnabled, true);
  assert.deepEqual(kernel.calls, [
    "localIrqSaveAndDisable -> 1",
    "localIrqSaveAndDisable -> 0",
    "localIrqRestore(0)",
    "localIrqRestore(1)",
  ]);
});

Deno.test("using releases at the end of the block and when the block throws", () => {
  const kernel = new RecordingKernel();
  withKernel(kernel, () => {
    {
      using guard = new NoPreempt();
      assert.equal(kernel.depth, 1);
      assert.equal(guard.held, true);
    }
    assert.equal(kernel.depth, 0);

    assert.throws(() => {
      using _guard = new NoPreemptIrqSave();
      assert.equal(kernel.depth, 1);
      assert.equal(kernel.irqsEnabled, false);
      throw new Error("boom");
    }, /boom/);
    assert.equal(kernel.depth, 0);
    assert.equal(kernel.irqsEnabled, true);
  });
});

Deno.test("releasing twice does not unbalance the interface", () => {
  const kernel = new RecordingKernel();
  withKernel(kernel, () => {
    const guard = new NoPreemptIrqSave();
    guard.release();
    guard.release();
    guard[Symbol.dispose]();
    assert.equal(guard.held, false);
    {
      using early = new NoPreempt();
      early.release();
    }
  });
  assert.equal(kernel.depth, 0);
  assert.equal(kernel.calls.filter((c) => c === "enablePreempt").length, 2);
  assert.equal(kernel.calls.filter((c) => c.startsWith("localIrqRestore")).length, 1);
});

Deno.test("a guard releases on the interface it acquired from", () => {
  const first = new RecordingKernel();
  const second = new RecordingKernel();
  withKernel(first, () => {
    const guard = new NoPreempt();
    setKernelGuardIf(second);
    guard.release();
  });
  assert.equal(first.depth, 0);
  assert.deepEqual(second.calls, []);

  // Acquired with no interface: nothing to give back to one installed later.
  const later = new RecordingKernel();
  const guard = withKernel(null, () => new NoPreemptIrqSave());
  withKernel(later, () => guard.release());
  assert.deepEqual(later.calls, []);
});

Deno.test("with no interface installed every guard is a no-op", () => {
  withKernel(null, () => {
    assert.equal(kernelGuardIf(), null);
    for (const make of [() => new NoOp(), () => new IrqSave(), () => new NoPreempt()]) {
      using guard = make();
      assert.equal(guard.held, true);
    }
    NoPreemptIrqSave.release(NoPreemptIrqSave.acquire());
    const p = createPercpu({ features: ["preempt"] });
    const x = p.defPercpu("X", u32, 1);
    p.init(1);
    p.initPercpuReg(0);
    x.writeCurrent(2);
    assert.equal(x.readCurrent(), 2);
  });
});

Deno.test("an interface without IRQ methods makes IrqSave a no-op", () => {
  const calls: string[] = [];
  withKernel({
    disablePreempt: () => void calls.push("off"),
    enablePreempt: () => void calls.push("on"),
  }, () => {
    new IrqSave().release();
    new NoPreemptIrqSave().release();
  });
  assert.deepEqual(calls, ["off", "on"]);
});

Deno.test("setKernelGuardIf validates the interface and installs nothing on failure", async (t) => {
  const installed = new RecordingKernel();
  const noop = () => {};
  const bad: [string, unknown, RegExp][] = [
    ["a number", 42, /object or null.*number 42/],
    ["a string", "kernel", /object or null.*string "kernel"/],
    ["no disablePreempt", { enablePreempt: noop }, /disablePreempt must be a function.*undefined/],
    [
      "enablePreempt not a function",
      { disablePreempt: noop, enablePreempt: 1 },
      /enablePreempt must be a function.*number 1/,
    ],
    [
      "only localIrqSaveAndDisable",
      { disablePreempt: noop, enablePreempt: noop, localIrqSaveAndDisable: () => 0 },
      /both be functions or both be absent/,
    ],
    [
      "only localIrqRestore",
      { disablePreempt: noop, enablePreempt: noop, localIrqRestore: noop },
      /both be functions or both be absent/,
    ],
    [
      "IRQ methods that are not functions",
      { disablePreempt: noop, enablePreempt: noop, localIrqSaveAndDisable: 1, localIrqRestore: 2 },
      /both be functions or both be absent/,
    ],
  ];
  for (const [label, impl, message] of bad) {
    await t.step(label, () => {
      withKernel(installed, () => {
        assert.throws(() => setKernelGuardIf(impl as KernelGuardIf), (e) => {
          assert.ok(e instanceof TypeError);
          assert.match(e.message, message);
          return true;
        });
        assert.equal(kernelGuardIf(), installed, "the previous interface stays installed");
      });
    });
  }
  await t.step("returns the previous interface; null uninstalls", () => {
    const previous = setKernelGuardIf(installed);
    try {
      assert.equal(setKernelGuardIf(null), installed);
      assert.equal(kernelGuardIf(), null);
      assert.equal(setKernelGuardIf(installed), null);
    } finally {
      setKernelGuardIf(previous);
    }
  });
});

// ---------------------------------------------------------------------------
// The `preempt` feature.

function defineScalar(p: Percpu) {
  return p.defPercpu("X", u32, 7);
}

function fixture(arch: Arch, features: Feature[]) {
  const p = createPercpu({ arch, features });
  const x = defineScalar(p);
  const wide = p.defPercpu("W", u64, 9n);
  const s = p.defPercpu("S", struct({ a: u8, b: array(u32, 2) }), { a: 1, b: [2, 3] });
  p.init(2);
  p.initPercpuReg(0);
  return { p, x, wide, s };
}

/** Calls `f` with a fresh recording kernel and returns the calls it made. */
function guardCalls(f: (kernel: RecordingKernel) => void): string[] {
  const kernel = new RecordingKernel();
  withKernel(kernel, () => f(kernel));
  assert.equal(kernel.depth, 0, "balanced");
  return kernel.calls;
}

const ONE_PAIR = ["disablePreempt", "enablePreempt"];

const PREEMPT_SETS: [Arch, Feature[]][] = ARCHES.flatMap((arch): [Arch, Feature[]][] => [
  [arch, ["preempt"]],
  [arch, ["sp-naive", "preempt"]],
  [arch, ["non-zero-vma", "preempt"]],
]);

Deno.test("preempt: each guarded accessor takes exactly one NoPreempt per call", async (t) => {
  for (const [arch, features] of PREEMPT_SETS) {
    await t.step([arch, ...features].join(" + "), () => {
      const { x, wide, s } = fixture(arch, features);
      const guarded: [string, () => unknown][] = [
        ["readCurrent", () => x.readCurrent()],
        ["writeCurrent", () => x.writeCurrent(8)],
        ["addCurrent", () => x.addCurrent(1)],
        ["u64 addCurrent", () => wide.addCurrent(1n)],
        ["withCurrent", () => x.withCurrent((r) => r.value)],
        ["resetToInit", () => x.resetToInit()],
        ["struct withCurrent", () => s.withCurrent((r) => r.value.a++)],
        ["struct resetToInit", () => s.resetToInit()],
      ];
      for (const [name, call] of guarded) {
        assert.deepEqual(guardCalls(() => call()), ONE_PAIR, name);
      }
    });
  }
});

Deno.test("preempt: the access happens inside the guard", async (t) => {
  for (const [arch, features] of PREEMPT_SETS.filter(([, f]) => !f.includes("sp-naive"))) {
    await t.step([arch, ...features].join(" + "), () => {
      const { p, x } = fixture(arch, features);
      x.remoteRefMutRaw(1).value = 100;
      // A migration just before the guard takes effect: the access must
      // already see CPU 1's register, so it cannot have run before the guard.
      guardCalls((kernel) => {
        kernel.onDisable = () => p.initPercpuReg(1);
        assert.equal(x.readCurrent(), 100);
      });
      p.initPercpuReg(0);
      guardCalls((kernel) => {
        x.withCurrent(() => assert.equal(kernel.depth, 1));
      });
      guardCalls((kernel) => {
        kernel.onDisable = () => p.initPercpuReg(1);
        x.writeCurrent(55);
      });
      assert.equal(x.remoteRefRaw(1).value, 55);
      assert.equal(x.remoteRefRaw(0).value, 7);
    });
  }
});

Deno.test("preempt: the guard is released when the call throws", async (t) => {
  for (const [arch, features] of PREEMPT_SETS) {
    await t.step([arch, ...features].join(" + "), () => {
      const { x, s } = fixture(arch, features);
      const calls = guardCalls(() => {
        assert.throws(() =>
          x.withCurrent(() => {
            throw new Error("callback failed");
          }), /callback failed/);
        assert.throws(() =>
          s.withCurrent(() => {
            throw new Error("struct callback failed");
          }), /struct callback failed/);
        assert.throws(() => x.writeCurrent(-1), RangeError);
        assert.throws(() => x.addCurrent(0.5), RangeError);
      });
      assert.deepEqual(calls, [...ONE_PAIR, ...ONE_PAIR, ...ONE_PAIR, ...ONE_PAIR]);
      // A non-function is rejected before anything is acquired.
      const rejected = guardCalls(() => assert.throws(() => x.withCurrent(1 as never), TypeError));
      assert.deepEqual(rejected, []);
    });
  }
});

Deno.test("preempt: a fault inside the guard still releases it", async (t) => {
  for (const arch of ARCHES) {
    await t.step(arch, () => {
      const p = createPercpu({ arch, features: ["preempt"] });
      const x = defineScalar(p);
      p.init(2);
      // The register was never pointed at an area.
      const calls = guardCalls(() => {
        assert.throws(() => x.readCurrent(), FaultError);
        assert.throws(() => x.writeCurrent(1), FaultError);
      });
      assert.deepEqual(calls, [...ONE_PAIR, ...ONE_PAIR]);
    });
  }
});

Deno.test("raw and remote accessors never take a guard", async (t) => {
  for (const [arch, features] of PREEMPT_SETS) {
    await t.step([arch, ...features].join(" + "), () => {
      const { x, s } = fixture(arch, features);
      const calls = guardCalls(() => {
        x.readCurrentRaw();
        x.writeCurrentRaw(1);
        x.addCurrentRaw(1);
        x.currentPtr();
        x.currentRefRaw().value;
        x.currentRefMutRaw().value = 3;
        x.remotePtr(0);
        x.remoteRefRaw(0).value;
        x.remoteRefMutRaw(0).value = 4;
        s.currentPtr();
        s.currentRefMutRaw().value.a = 5;
        s.remoteRefMutRaw(0).value = { a: 6, b: [7, 8] };
        x.disassemble("read");
      });
      assert.deepEqual(calls, []);
    });
  }
});

Deno.test("without preempt no accessor takes a guard", async (t) => {
  for (const arch of ARCHES) {
    for (const features of [[], ["sp-naive"], ["non-zero-vma"]] as Feature[][]) {
      await t.step([arch, ...features].join(" + "), () => {
        const { x, wide, s } = fixture(arch, features);
        const calls = guardCalls(() => {
          x.readCurrent();
          x.writeCurrent(8);
          x.addCurrent(1);
          wide.addCurrent(1n);
          x.withCurrent((r) => r.value);
          x.resetToInit();
          s.withCurrent((r) => r.value.a);
          s.resetToInit();
          assert.throws(() =>
            x.withCurrent(() => {
              throw new Error("x");
            })
          );
        });
        assert.deepEqual(calls, []);
      });
    }
  }
});

// ---------------------------------------------------------------------------
// Exception safety, as kernel_guard's RAII guards have it: a hook that
// throws while a guard is acquired leaves nothing acquired; a hook that
// throws on release does not stop the rest of the release; an error of the
// guarded code is never lost (SuppressedError, as `using` does).

/** A kernel whose hooks throw on demand. */
class FaultyKernel extends RecordingKernel {
  failing = new Set<string>();

  #fail(hook: string): void {
    if (this.failing.has(hook)) {
      this.calls.push(`${hook} threw`);
      throw new Error(`${hook} failed`);
    }
  }

  override disablePreempt(): void {
    this.#fail("disablePreempt");
    super.disablePreempt();
  }

  override enablePreempt(): void {
    this.#fail("enablePreempt");
    super.enablePreempt();
  }

  override localIrqSaveAndDisable(): number {
    this.#fail("localIrqSaveAndDisable");
    return super.localIrqSaveAndDisable();
  }

  override localIrqRestore(state: number): void {
    this.#fail("localIrqRestore");
    super.localIrqRestore(state);
  }
}

function suppressedOf(e: unknown): { error: unknown; suppressed: unknown } {
  assert.ok(e instanceof Error, `expected an Error, got ${e}`);
  assert.equal(e.name, "SuppressedError");
  return e as unknown as { error: unknown; suppressed: unknown };
}

Deno.test("a guard whose acquisition fails halfway gives back what it took", () => {
  const kernel = new FaultyKernel();
  kernel.failing.add("localIrqSaveAndDisable");
  withKernel(kernel, () => {
    assert.throws(() => new NoPreemptIrqSave(), /localIrqSaveAndDisable failed/);
    assert.throws(() => NoPreemptIrqSave.acquire(), /localIrqSaveAndDisable failed/);
  });
  assert.equal(kernel.depth, 0, "preemption was enabled again");
  assert.deepEqual(kernel.calls, [
    "disablePreempt",
    "localIrqSaveAndDisable threw",
    "enablePreempt",
    "disablePreempt",
    "localIrqSaveAndDisable threw",
    "enablePreempt",
  ]);

  // When undoing fails as well, both errors are kept.
  const worse = new FaultyKernel();
  worse.failing.add("localIrqSaveAndDisable").add("enablePreempt");
  withKernel(worse, () => {
    assert.throws(() => new NoPreemptIrqSave(), (e) => {
      const { error, suppressed } = suppressedOf(e);
      assert.match(String(error), /enablePreempt failed/);
      assert.match(String(suppressed), /localIrqSaveAndDisable failed/);
      return true;
    });
  });

  // A hook that throws on acquire is taken not to have acquired.
  const refusing = new FaultyKernel();
  refusing.failing.add("disablePreempt");
  withKernel(refusing, () => {
    assert.throws(() => new NoPreempt(), /disablePreempt failed/);
    assert.throws(() => new NoPreemptIrqSave(), /disablePreempt failed/);
  });
  assert.deepEqual(refusing.calls, ["disablePreempt threw", "disablePreempt threw"]);
});

Deno.test("a release whose first step throws still runs the second", () => {
  const kernel = new FaultyKernel();
  withKernel(kernel, () => {
    const guard = new NoPreemptIrqSave();
    kernel.failing.add("localIrqRestore");
    assert.throws(() => guard.release(), /localIrqRestore failed/);
    assert.equal(guard.held, false, "the release counts as done");
    guard.release(); // and is not attempted twice
    const state = NoPreemptIrqSave.acquire();
    assert.throws(() => NoPreemptIrqSave.release(state), /localIrqRestore failed/);
  });
  assert.equal(kernel.depth, 0, "preemption is enabled despite the IRQ restore failing");
  assert.equal(kernel.calls.filter((c) => c === "enablePreempt").length, 2);
});

Deno.test("using keeps the block's error when the release throws too", () => {
  const kernel = new FaultyKernel();
  withKernel(kernel, () => {
    assert.throws(() => {
      using _guard = new NoPreemptIrqSave();
      kernel.failing.add("localIrqRestore");
      throw new RangeError("the block failed");
    }, (e) => {
      const { error, suppressed } = suppressedOf(e);
      assert.match(String(error), /localIrqRestore failed/);
      assert.ok(suppressed instanceof RangeError);
      return true;
    });
  });
  assert.equal(kernel.depth, 0);
});

Deno.test("preempt: guarded accessors are exception-safe", async (t) => {
  for (const arch of ["x86_64", "riscv64"] as Arch[]) {
    await t.step(arch, () => {
      const { p, x, s } = fixture(arch, ["preempt"]);
      const counterSystem = createPercpu({ arch, features: ["preempt"] });
      const events = defPercpuCounter(counterSystem, "EVENTS", { batch: 4 });
      counterSystem.init(1);
      counterSystem.initPercpuReg(0);
      const guarded: [string, () => unknown][] = [
        ["readCurrent", () => x.readCurrent()],
        ["writeCurrent", () => x.writeCurrent(8)],
        ["addCurrent", () => x.addCurrent(1)],
        ["withCurrent", () => x.withCurrent((r) => (r.value = 9))],
        ["struct withCurrent", () => s.withCurrent((r) => (r.value.a = 9))],
        ["resetToInit", () => x.resetToInit()],
        ["counter add", () => events.add()],
      ];
      const snapshot = () => [x.remoteRefRaw(0).value, s.remoteRefRaw(0).value.a, events.sum()];
      for (const [name, call] of guarded) {
        // disablePreempt throws: nothing runs, nothing is enabled.
        const refusing = new FaultyKernel();
        refusing.failing.add("disablePreempt");
        const before = snapshot();
        withKernel(refusing, () => assert.throws(call, /disablePreempt failed/, name));
        assert.deepEqual(refusing.calls, ["disablePreempt threw"], name);
        assert.deepEqual(snapshot(), before, `${name} changed nothing`);

        // enablePreempt throws after the access: its error is what comes out.
        const failing = new FaultyKernel();
        failing.failing.add("enablePreempt");
        withKernel(failing, () => assert.throws(call, /enablePreempt failed/, name));
        assert.deepEqual(failing.calls, ["disablePreempt", "enablePreempt threw"], name);
      }
      p.initPercpuReg(0);
    });
  }
});

Deno.test("preempt: the guarded code's error is never lost to the release's", async (t) => {
  for (const arch of ["x86_64", "aarch64"] as Arch[]) {
    await t.step(arch, () => {
      const { x, s } = fixture(arch, ["preempt"]);
      const failing: [string, () => unknown, ErrorConstructor | typeof FaultError][] = [
        ["withCurrent closure", () =>
          x.withCurrent(() => {
            throw new RangeError("closure failed");
          }), RangeError],
        ["struct withCurrent closure", () =>
          s.withCurrent(() => {
            throw new SyntaxError("closure failed");
          }), SyntaxError],
        ["writeCurrent of a bad value", () => x.writeCurrent(-1), RangeError],
        ["addCurrent of a bad delta", () => x.addCurrent("1" as never), TypeError],
      ];
      for (const [name, call, Class] of failing) {
        const kernel = new FaultyKernel();
        kernel.failing.add("enablePreempt");
        withKernel(kernel, () => {
          assert.throws(call, (e) => {
            const { error, suppressed } = suppressedOf(e);
            assert.match(String(error), /enablePreempt failed/, name);
            assert.ok(suppressed instanceof Class, `${name}: ${suppressed}`);
            return true;
          });
        });
      }
      // A fault inside the guard, with a failing release.
      const p2 = createPercpu({ arch, features: ["preempt"] });
      const y = p2.defPercpu("Y", u32, 0);
      p2.init(1);
      const kernel = new FaultyKernel();
      kernel.failing.add("enablePreempt");
      withKernel(kernel, () => {
        assert.throws(() => y.readCurrent(), (e) => {
          assert.ok(suppressedOf(e).suppressed instanceof FaultError);
          return true;
        });
      });
    });
  }
});
