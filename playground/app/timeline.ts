/// <reference lib="dom" />
/**
 * The growing timeline: the run's events drawn by `renderTimelineSvg`, the
 * very renderer behind `cli.ts sim --svg`. Drawing is O(events), so it is
 * throttled: a redraw waits at least four times as long as the last one
 * took (and at least 200 ms), so stepping stays fast however long the run
 * grows, and the picture catches up as soon as the player pauses.
 *
 * @module
 */

import { renderTimelineSvg, type TimelineInput } from "../../sched/report/timeline_svg.ts";

/** Draws a run into an element, at most as often as it can afford. */
export class TimelineView {
  readonly #host: HTMLElement;
  #input: (() => TimelineInput) | null = null;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #lastEnd = 0;
  #lastCost = 0;

  /**
   * Draws into `host`.
   *
   * @param host The element the SVG goes in.
   */
  constructor(host: HTMLElement) {
    this.#host = host;
  }

  /**
   * Asks for a redraw with the run as `input()` describes it then.
   *
   * @param input Reads the run's events, names and titles at drawing time.
   */
  request(input: () => TimelineInput): void {
    this.#input = input;
    if (this.#timer !== null) return;
    const wait = Math.max(200, 4 * this.#lastCost);
    const delay = Math.max(0, this.#lastEnd + wait - performance.now());
    this.#timer = setTimeout(() => this.#draw(), delay);
  }

  /** Draws now (e.g. at the end of a run). */
  flush(): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#draw();
  }

  #draw(): void {
    this.#timer = null;
    const input = this.#input;
    if (input === null) return;
    const start = performance.now();
    const host = this.#host;
    // Keep following the newest cycles unless the player scrolled back.
    const following = host.scrollLeft + host.clientWidth >= host.scrollWidth - 24;
    host.innerHTML = renderTimelineSvg(input());
    if (following) host.scrollLeft = host.scrollWidth;
    this.#lastEnd = performance.now();
    this.#lastCost = this.#lastEnd - start;
  }
}
