// A Chromium for the browser tests, shipped inside an npm package (nothing
// downloads a browser at run time), pinned; see fast_check.ts.
export { default } from "npm:@sparticuz/chromium@153";
