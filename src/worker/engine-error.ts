/** What the worker refuses, in words for the page (Comlink hands the page its message). */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}
