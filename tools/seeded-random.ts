/**
 * The project's one seeded pseudo-random generator (mulberry32): small, fast and reproducible, so that fault runs,
 * soak populations and generated content can be replayed from a seed. Not for anything that needs to be unguessable.
 */

/** Returns a generator of unsigned 32-bit integers, the same sequence for the same `seed`. */
export function createRandomUint32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Returns a generator of numbers in [0, 1), like `Math.random`, the same sequence for the same `seed`. */
export function createRandom(seed: number): () => number {
  const next = createRandomUint32(seed);
  return () => next() / 4_294_967_296;
}
