// Soundness of the partial-order reduction: on small tests, DPOR reaches
// every equivalence class, every distinct final state and every violation
// kind (with its smallest preemptions and causal prefix) that brute force
// (`reduction: "none"`) reaches, at the same bound and unbounded.
//
// The sets themselves (not just their sizes) come from the explorer's
// internal search (`Explorer.search`, the pass checkDfs runs): its result
// keeps the fingerprints of the classes and final states it met.

import assert from "node:assert/strict";
import { createPercpu, u64 } from "../mod.ts";
import type { Arch } from "../mod.ts";
import { checkDfs, counterTest, type ExploreTest, type SimOptions } from "../sched/mod.ts";
import { buildScenario } from "../sched/scenario/scenario.ts";
import { resolveSimOptions } from "../sched/scenario/sim_options.ts";
import { scenarioTest } from "../sched/scenario/counter_test.ts";
import { machinePort } from "../sched/runtime/_port.ts";
import { RandomChooser } from "../sched/explore/_choices.ts";
import {
  Explorer,
  exploreSettings,
  type Firsts,
  Limited,
  noteFirsts,
} from "../sched/explore/_explorer.ts";
import type { SearchResult } from "../sched/explore/_search.ts";

function search(test: ExploreTest, reduction: "dpor" | "none", bound: number): SearchResult {
  const settings = exploreSettings({ reduction, maxPreemptions: bound, exhaustive: true }, "t", 1);
  const result = new Explorer(test, settings).search(bound, 200_000, performance.now() + 60_000);
  assert.equal(result.stop, "complete", `${test.name} (${reduction}, bound ${bound})`);
  assert.equal(result.cutOff, 0);
  return result;
}

function missing<T>(from: ReadonlySet<T>, within: ReadonlySet<T>): number {
  let count = 0;
  for (const key of from) if (!within.has(key)) count++;
  return count;
}

/** Compares DPOR with brute force; returns both for further checks. */
function compare(test: ExploreTest, bound: number): { dpor: SearchResult; none: SearchResult } {
  const none = search(test, "none", bound);
  const dpor = search(test, "dpor", bound);
  const what = `${test.name}, bound ${bound}`;
  assert.equal(missing(none.finalStates, dpor.finalStates), 0, `${what}: final states missed`);
  assert.equal(missing(none.classes, dpor.classes), 0, `${what}: classes missed`);
  // Brute force runs every interleaving, so it cannot have fewer of either.
  assert.equal(missing(dpor.finalStates, none.finalStates), 0, `${what}: unknown final state`);
  assert.equal(missing(dpor.classes, none.classes), 0, `${what}: unknown class`);
  const kinds = (r: SearchResult) =>
    [...r.best].map(([kind, b]) => [kind, b.preemptions, b.steps]).sort();
  assert.deepEqual(kinds(dpor), kinds(none), `${what}: violation kinds and smallest prefixes`);
  // Every completed DPOR run is a class of its own: none is run twice.
  assert.equal(dpor.completed, dpor.classes.size, `${what}: a class was run twice`);
  assert.ok(dpor.runs <= none.runs, `${what}: DPOR ran more than brute force`);
  return { dpor, none };
}

Deno.test("DPOR reaches what brute force reaches: built-in counter tests", async (t) => {
  const cases: [string, Parameters<typeof counterTest>[0], number[]][] = [
    // Two CPUs: the interleaving dimension.
    ["x86_64 2x1 read-write", { arch: "x86_64", tasks: 2, access: "read-write" }, [2, Infinity]],
    ["x86_64 2x1 add", { arch: "x86_64", tasks: 2, access: "add" }, [2, Infinity]],
    ["x86_64 2x1 add preempt", {
      arch: "x86_64",
      tasks: 2,
      access: "add",
      features: ["preempt"],
    }, [Infinity]],
    ["x86_64 2x2 add", { arch: "x86_64", tasks: 2, iters: 2, access: "add" }, [2]],
    ["x86_64 3x1 add", { arch: "x86_64", tasks: 3, access: "add" }, [1]],
    // One CPU: ticks, picks and guards only.
    ["aarch64 1 CPU 3x1", { arch: "aarch64", cpus: 1, tasks: 3 }, [1, Infinity]],
    ["aarch64 1 CPU 3x1 preempt", {
      arch: "aarch64",
      cpus: 1,
      tasks: 3,
      features: ["preempt"],
    }, [Infinity]],
    ["riscv64 1 CPU 2x2", { arch: "riscv64", cpus: 1, tasks: 2, iters: 2 }, [2]],
    ["riscv64 1 CPU 2x2 read-write preempt", {
      arch: "riscv64",
      cpus: 1,
      tasks: 2,
      iters: 2,
      access: "read-write",
      features: ["preempt"],
    }, [Infinity]],
    ["loongarch64 1 CPU 3x1 read-write", {
      arch: "loongarch64",
      cpus: 1,
      tasks: 3,
      access: "read-write",
    }, [1]],
    ["arm 1 CPU 2x1", { arch: "arm", cpus: 1, tasks: 2 }, [Infinity]],
  ];
  for (const [name, options, bounds] of cases) {
    await t.step(name, () => {
      for (const bound of bounds) compare(counterTest(options), bound);
    });
  }
});

/**
 * A user-written test on two CPUs: `tasks` tasks share the per-CPU `A`
 * through raw accesses (no guard), or guard it with IRQs off and then
 * sleep, or each touch a variable of its own.
 */
function userTest(arch: Arch, tasks: number, mode: "race" | "irq-sleep" | "apart"): ExploreTest {
  const percpu = createPercpu({ arch });
  const a = percpu.defPercpu("A", u64, 0n);
  const b = percpu.defPercpu("B", u64, 0n);
  return {
    name: `user ${arch} ${tasks} ${mode}`,
    percpu,
    cpus: 2,
    spawn(machine) {
      for (let i = 0; i < tasks; i++) {
        machine.spawn(function* (ctx) {
          if (mode === "apart") {
            yield* ctx.add(i % 2 === 0 ? a : b, 1n);
            return;
          }
          if (mode === "irq-sleep") {
            {
              using _irq = ctx.irqSave();
              const value = yield* ctx.read(a, { raw: true });
              yield* ctx.write(a, value + 1n, { raw: true });
            }
            yield* ctx.sleep(2);
            return;
          }
          const value = yield* ctx.read(a, { raw: true });
          yield* ctx.write(a, value + 1n, { raw: true });
        });
      }
    },
    check() {
      if (mode === "apart") return null;
      const sum = a.remoteRefRaw(0).value + a.remoteRefRaw(1).value;
      return sum === BigInt(tasks) ? null : `sum is ${sum}, expected ${tasks}`;
    },
    allowWrongCpu: mode !== "apart",
  };
}

/**
 * Violations that depend on the interleaving: a task that reads an odd
 * count yields inside a guard (scheduling while atomic); one that reads 2
 * fails (a task error); updates can be lost.
 */
function kindsTest(): ExploreTest {
  const percpu = createPercpu({ arch: "x86_64" });
  const a = percpu.defPercpu("A", u64, 0n);
  return {
    name: "kinds",
    percpu,
    cpus: 2,
    spawn(machine) {
      for (let i = 0; i < 3; i++) {
        machine.spawn(function* (ctx) {
          const value = yield* ctx.read(a, { raw: true });
          if (value === 2n) throw new Error("read 2");
          if (value % 2n === 1n) {
            using _guard = ctx.noPreempt();
            yield* ctx.schedYield();
          }
          yield* ctx.write(a, value + 1n, { raw: true });
        });
      }
    },
    check() {
      const sum = a.remoteRefRaw(0).value + a.remoteRefRaw(1).value;
      return sum === 3n ? null : `sum is ${sum}, expected 3`;
    },
    allowWrongCpu: true,
  };
}

Deno.test("DPOR reaches what brute force reaches: user-written tests", async (t) => {
  await t.step("an unguarded read-then-write, 2 and 3 tasks", () => {
    compare(userTest("x86_64", 2, "race"), Infinity);
    const { dpor } = compare(userTest("x86_64", 3, "race"), 1);
    assert.deepEqual([...dpor.best.keys()], ["lost-update"]);
    compare(userTest("x86_64", 3, "race"), 2);
    compare(userTest("x86_64", 3, "race"), Infinity);
    compare(userTest("riscv64", 2, "race"), Infinity);
  });
  await t.step("IRQs off around the update, then a sleep", () => {
    compare(userTest("x86_64", 2, "irq-sleep"), Infinity);
    const { dpor } = compare(userTest("x86_64", 3, "irq-sleep"), 1);
    assert.equal(dpor.best.size, 0, "the guard holds");
  });
  await t.step("tasks that touch different variables", () => {
    compare(userTest("x86_64", 2, "apart"), Infinity);
    compare(userTest("x86_64", 3, "apart"), Infinity);
    compare(userTest("riscv64", 2, "apart"), Infinity);
  });
  await t.step("violation kinds that depend on the interleaving", () => {
    const { dpor } = compare(kindsTest(), 1);
    assert.deepEqual([...dpor.best.keys()].sort(), [
      "lost-update",
      "scheduling-while-atomic",
      "task-error",
    ]);
  });
});

Deno.test("DPOR runs fewer schedules where steps are independent, and about one per class", () => {
  // Through the public API: the counts checkDfs reports.
  const tests: [ExploreTest, number][] = [
    [counterTest({ arch: "x86_64", tasks: 2, access: "read-write" }), Infinity],
    [counterTest({ arch: "x86_64", tasks: 3, access: "add" }), Infinity],
    [userTest("x86_64", 3, "race"), 2],
    [userTest("x86_64", 3, "apart"), Infinity],
    [userTest("x86_64", 3, "irq-sleep"), Infinity],
  ];
  for (const [test, bound] of tests) {
    const options = { maxPreemptions: bound, exhaustive: true };
    const dpor = checkDfs(test, { ...options, reduction: "dpor" });
    const none = checkDfs(test, { ...options, reduction: "none" });
    assert.equal(dpor.complete, true);
    assert.equal(none.complete, true);
    assert.equal(dpor.equivalenceClasses, none.equivalenceClasses, test.name);
    assert.equal(dpor.finalStates, none.finalStates, test.name);
    assert.ok(
      dpor.schedulesExplored < none.schedulesExplored,
      `${test.name}: dpor ${dpor.schedulesExplored}, none ${none.schedulesExplored}`,
    );
    // Runs abandoned as redundant (sleep-set blocked) are the only excess,
    // and on these tests they stay below the number of classes.
    const counts =
      `${test.name}: dpor ${dpor.schedulesExplored} (${dpor.pruned} blocked), classes ${dpor.equivalenceClasses}, none ${none.schedulesExplored}`;
    assert.equal(dpor.schedulesExplored - dpor.pruned, dpor.equivalenceClasses, counts);
    assert.ok(dpor.schedulesExplored <= 2 * dpor.equivalenceClasses!, counts);
  }
});

/**
 * A counter test whose `check()` also notes the run's outcome: each CPU's
 * counter and the CPU each task ended on.
 */
function noting(options: SimOptions, outcomes: Set<string>): ExploreTest {
  const resolved = resolveSimOptions({ tasks: 3, iters: 1, ...options });
  const scenario = buildScenario(resolved);
  const test = scenarioTest(resolved, scenario);
  return {
    ...test,
    check(machine) {
      const counters = Array.from(
        { length: machine.cpus },
        (_, cpu) => scenario.counter.remoteRefRaw(cpu).value,
      );
      const ends = machinePort(machine).snapshot().tasks.map((task) => task.cpu);
      outcomes.add(`${counters.join()} ${ends.join()}`);
      return test.check!(machine);
    },
  };
}

/** The outcomes and violation kinds of `runs` random runs within `bound` ticks. */
function sample(options: SimOptions, bound: number, runs: number) {
  const outcomes = new Set<string>();
  const explorer = new Explorer(
    noting(options, outcomes),
    exploreSettings({ maxPreemptions: bound }, "t", 1),
  );
  const driver = explorer.driver;
  const kinds = new Set<string>();
  for (let run = 0; run < runs; run++) {
    driver.start(new Limited(new RandomChooser(run + 1, 0.3), bound, "fifo"));
    const firsts: Firsts = new Map();
    while (!driver.done) {
      driver.step(driver.chooseCpu());
      noteFirsts(driver, firsts);
    }
    assert.equal(driver.end, "completed");
    for (const v of explorer.violationsOfRun(firsts)) kinds.add(v.kind);
  }
  return { outcomes, kinds };
}

// The machine-level final states (SearchResult.finalStates) are not
// compared here: they include the CPUs' tick bookkeeping left at the end
// (`tickDue`, `ran`), which a tick taken one quiet step later (the search
// never ticks just before a step that only moves its task along
// privately) leaves differently. What the program can observe is compared.
Deno.test("on tests too large for brute force, DPOR reaches what random runs reach", async (t) => {
  const cases: [string, SimOptions, number][] = [
    ["aarch64 3x1", { arch: "aarch64" }, 1],
    ["aarch64 3x1 preempt", { arch: "aarch64", features: ["preempt"] }, 2],
    ["x86_64 3x1 add preempt", { arch: "x86_64", access: "add", features: ["preempt"] }, 1],
    ["riscv64 3x1 read-write preempt", {
      arch: "riscv64",
      access: "read-write",
      features: ["preempt"],
    }, 2],
    ["aarch64 3x2 preempt", { arch: "aarch64", iters: 2, features: ["preempt"] }, 1],
  ];
  for (const [name, options, bound] of cases) {
    await t.step(name, () => {
      const outcomes = new Set<string>();
      const dpor = search(noting(options, outcomes), "dpor", bound);
      const random = sample(options, bound, 1500);
      assert.equal(missing(random.outcomes, outcomes), 0, "outcomes missed");
      assert.deepEqual([...random.kinds].sort(), [...dpor.best.keys()].sort());
    });
  }
});
