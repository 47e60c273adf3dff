// Small building blocks shared by the panels.
import { useId, useState, type ReactNode } from 'react';

export function Section(props: { id?: string; step?: number; title: string; aside?: ReactNode; children: ReactNode; className?: string }) {
  return (
    <section className={`card ${props.className ?? ''}`} id={props.id} aria-labelledby={props.id ? `${props.id}-title` : undefined}>
      <header className="card-head">
        <h2 id={props.id ? `${props.id}-title` : undefined}>
          {props.step !== undefined && <span className="step">{props.step}</span>}
          {props.title}
        </h2>
        {props.aside && <div className="card-aside">{props.aside}</div>}
      </header>
      {props.children}
    </section>
  );
}

export function Field(props: { label: string; hint?: ReactNode; children: (id: string) => ReactNode; className?: string }) {
  const id = useId();
  return (
    <div className={`field ${props.className ?? ''}`}>
      <label htmlFor={id}>{props.label}</label>
      {props.children(id)}
      {props.hint && <div className="hint">{props.hint}</div>}
    </div>
  );
}

/** A number input that keeps what is typed and reports only valid values. */
export function NumberField(props: {
  label: string;
  value: number | null;
  onChange: (v: number | null) => void;
  min?: number;
  max?: number;
  step?: number | 'any';
  integer?: boolean;
  allowEmpty?: boolean;
  placeholder?: string;
  hint?: ReactNode;
  disabled?: boolean;
  testId?: string;
}) {
  const [draft, setDraft] = useState<string | null>(null);
  const shown = draft ?? (props.value === null ? '' : String(props.value));
  const check = (text: string): string | null => {
    if (text.trim() === '') return props.allowEmpty ? null : 'required';
    const v = Number(text);
    if (!Number.isFinite(v)) return 'not a number';
    if (props.integer && !Number.isInteger(v)) return 'whole number';
    if (props.min !== undefined && v < props.min) return `at least ${props.min}`;
    if (props.max !== undefined && v > props.max) return `at most ${props.max}`;
    return null;
  };
  const problem = draft !== null ? check(draft) : null;
  return (
    <Field label={props.label} hint={problem ? <span className="bad">{problem}</span> : props.hint}>
      {(id) => (
        <input
          id={id}
          data-testid={props.testId}
          type="number"
          inputMode="decimal"
          value={shown}
          min={props.min}
          max={props.max}
          step={props.step ?? (props.integer ? 1 : 'any')}
          placeholder={props.placeholder}
          disabled={props.disabled}
          aria-invalid={problem ? true : undefined}
          onChange={(e) => {
            const text = e.target.value;
            setDraft(text);
            if (check(text) === null) props.onChange(text.trim() === '' ? null : Number(text));
          }}
          onBlur={() => {
            if (draft !== null && check(draft) === null) setDraft(null);
          }}
        />
      )}
    </Field>
  );
}

export function ProgressBar(props: { value: number; label?: string; indeterminate?: boolean; testId?: string }) {
  const pct = Math.max(0, Math.min(1, props.value)) * 100;
  return (
    <div
      className={`progress ${props.indeterminate ? 'indeterminate' : ''}`}
      role="progressbar"
      aria-valuemin={0}
      aria-valuemax={100}
      aria-valuenow={Math.round(pct)}
      aria-label={props.label}
      data-testid={props.testId}
    >
      <div className="progress-fill" style={{ width: `${pct}%` }} />
    </div>
  );
}

export function Callout(props: { kind: 'info' | 'warning' | 'error' | 'success'; children: ReactNode; testId?: string; role?: string }) {
  return (
    <div className={`callout callout-${props.kind}`} role={props.role ?? (props.kind === 'error' ? 'alert' : undefined)} data-testid={props.testId}>
      {props.children}
    </div>
  );
}

export function Stat(props: { label: string; value: ReactNode; title?: string }) {
  return (
    <div className="stat" title={props.title}>
      <div className="stat-value">{props.value}</div>
      <div className="stat-label">{props.label}</div>
    </div>
  );
}
