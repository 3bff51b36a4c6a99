// fast-xml-parser for the tests (SVG well-formedness), pinned; see fast_check.ts.
export * from "npm:fast-xml-parser@4.5.7";
