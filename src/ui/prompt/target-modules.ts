// LoRA's target modules as the settings form reads them (the CLI's --target-modules reads them the same way).
/** A target-modules field's text: comma-separated names, 'all-linear', or a regular expression (PEFT's str form); empty: PEFT's default. */
export function parseTargetModules(v: string): string[] | string | null {
  if (v.trim() === '') return null;
  if (v.trim() === 'all-linear' || /[*+?()[\]|^$\\]/.test(v)) return v.trim();
  return v
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
}
