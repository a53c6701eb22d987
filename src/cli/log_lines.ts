// The generate/commit lines as the harness (benchmark, scenario checks) reads them: the spec's two
// line formats, ids without "]" (the rank refuses such ids). Groups: 1 id, 2 seq, 3 time in µs.
// Global and multiline, for matchAll over a whole log (matchAll copies the regex, so sharing is safe).
export const GENERATE_LINE = /^generate Instance\[([^\]]*)\] in seq (\d+) at (\d+)$/gm;
export const COMMIT_LINE = /^commit Instance\[([^\]]*)\] in seq (\d+) at (\d+)$/gm;
