/**
 * transformers' get_linear_schedule_with_warmup: linear ramp over the warmup steps, then linear
 * decay to 0 at `totalSteps`. `step` counts optimizer steps already taken (0 for the first).
 */
export function linearScheduleLr(baseLr: number, step: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return (baseLr * step) / Math.max(1, warmupSteps);
  return baseLr * Math.max(0, (totalSteps - step) / Math.max(1, totalSteps - warmupSteps));
}
