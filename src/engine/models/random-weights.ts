import * as tf from '@tensorflow/tfjs-core';
import type { WeightStore } from '../io/checkpoint.ts';

/**
 * Stand-in weights for a config.json alone: every weight a family asks for exists, with the
 * shape it asks for, filled on the device (N(0, 0.02) matrices, unit vectors). For benchmarks
 * with the exact shapes of real checkpoints, without downloading them.
 */
export class RandomWeights implements WeightStore {
  private calls = 0;
  constructor(private readonly seed = 0) {}
  names(): string[] {
    return [];
  }
  has(): boolean {
    return true;
  }
  shape(): number[] {
    throw new Error('RandomWeights has no stored shapes; WeightLoader asks it for tensors directly');
  }
  raw(): never {
    throw new Error('RandomWeights has no stored data; WeightLoader asks it for tensors directly');
  }
  get(): never {
    throw new Error('RandomWeights has no stored data; WeightLoader asks it for tensors directly');
  }
  release(): void {}
  tensor(shape: number[]): tf.Tensor {
    if (shape.length === 1) return tf.ones(shape);
    return tf.randomNormal(shape, 0, 0.02, 'float32', this.seed + this.calls++);
  }
}
