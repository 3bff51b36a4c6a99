// puppeteer-core drives the Chromium of chromium.ts (it downloads nothing),
// pinned; see fast_check.ts.
export { default } from "npm:puppeteer-core@25";
export type { Browser, Page } from "npm:puppeteer-core@25";
