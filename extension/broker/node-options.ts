// Node options of every broker process: the operator puts them in the broker container's
// NODE_OPTIONS (extension/operator/render.ts), which the local driver passes on as kubelet does,
// and the benchmark starts its broker with them (bench/broker.ts).
//
// V8 allocates in its young generation, two semi-spaces that start at 1 MiB and double, up to
// 16 MiB each, whenever much of what they hold survives a scavenge. A broker taking on connections
// is exactly that case — every connection's objects survive — so under V8's defaults a burst of
// 10,000 connections left some 10 MiB of grown young generation resident: about 1 KiB of RSS per
// idle connection, as much as the connections themselves (0.5 KiB of heap, 0.5 KiB of libuv handle).
// Capped at 4 MiB the young generation stays small while messages, which die young, still do not
// reach the old generation. Measured with `npm run bench -- broker` (2-core VM, beside mosquitto):
//   cap    RSS per idle connection   fan-in QoS 0   latency p50
//   none   1.94–2.03 KiB (2.7–2.8×)  1.9–2.2×       0.94–0.97×
//   4 MiB  1.29–1.35 KiB (1.8–1.9×)  2.0–2.6×       0.90–0.99×
//   2 MiB  1.03 KiB (1.4×)           2.65×          1.04×
//   1 MiB  0.46–0.9 KiB              ~1.6×          1.0–1.1×   (GC 28% of CPU instead of 5%)
export const BROKER_NODE_OPTIONS = '--max-semi-space-size=4';
