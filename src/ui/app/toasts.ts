// Toasts: short notices in the corner (errors stay longer).
import { app, type Toast } from './state.ts';

let toastId = 0;
export function toast(kind: Toast['kind'], text: string, ms = kind === 'error' ? 9000 : 4500): void {
  const id = ++toastId;
  app.set((s) => ({ toasts: [...s.toasts, { id, kind, text }] }));
  setTimeout(() => dismissToast(id), ms);
}
export function dismissToast(id: number): void {
  app.set((s) => ({ toasts: s.toasts.filter((t) => t.id !== id) }));
}
