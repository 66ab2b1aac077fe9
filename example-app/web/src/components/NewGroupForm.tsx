import { type FormEvent, useId, useState } from 'react';
import { describeError, type Group } from '../api';
import { SignInRedirect } from '../auth';
import { useServices } from '../services';
import { Alert } from './Feedback';

// The limits of example-app/schemas/new-group.json, which the API checks too.
const NAME_MAX = 100;
const DESCRIPTION_MAX = 1000;

type Errors = { name?: string; description?: string };

/** What is wrong with a new group, field by field (the schema's rules, in words). */
export function checkNewGroup(name: string, description: string): Errors {
  const errors: Errors = {};
  if (name.trim().length === 0) errors.name = 'Give the group a name.';
  else if ([...name].length > NAME_MAX)
    errors.name = `The name can be at most ${NAME_MAX} characters (it has ${[...name].length}).`;
  if ([...description].length > DESCRIPTION_MAX) {
    errors.description = `The description can be at most ${DESCRIPTION_MAX} characters (it has ${[...description].length}).`;
  }
  return errors;
}

/** The form that creates a group. */
export function NewGroupForm({ onCreated, onCancel }: { onCreated: (group: Group) => void; onCancel: () => void }) {
  const { api } = useServices();
  const id = useId();
  const [name, setName] = useState('');
  const [description, setDescription] = useState('');
  const [errors, setErrors] = useState<Errors>({});
  const [refusal, setRefusal] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const found = checkNewGroup(name, description);
    setErrors(found);
    setRefusal(null);
    if (found.name || found.description) {
      document.getElementById(found.name ? `${id}-name` : `${id}-description`)?.focus();
      return;
    }
    setBusy(true);
    try {
      onCreated(await api.createGroup(name.trim(), description.trim()));
    } catch (error) {
      if (!(error instanceof SignInRedirect)) setRefusal(describeError(error));
      setBusy(false);
    }
  };

  const nameLength = [...name].length;
  const descriptionLength = [...description].length;
  return (
    <form className="card form form-narrow" onSubmit={submit} noValidate aria-labelledby={`${id}-title`}>
      <h2 id={`${id}-title`}>New group</h2>
      {refusal && <Alert>{refusal}</Alert>}
      <div className="field">
        <label htmlFor={`${id}-name`}>Name</label>
        <input
          id={`${id}-name`}
          value={name}
          autoFocus
          autoComplete="off"
          aria-invalid={errors.name ? true : undefined}
          aria-describedby={`${id}-name-hint${errors.name ? ` ${id}-name-error` : ''}`}
          onChange={(event) => {
            setName(event.target.value);
            setErrors((before) => ({ ...before, name: undefined }));
          }}
        />
        <div className="field-foot">
          {errors.name && (
            <p className="field-error" id={`${id}-name-error`}>
              {errors.name}
            </p>
          )}
          <span className="field-hint" id={`${id}-name-hint`}>
            <span className={nameLength > NAME_MAX ? 'over' : ''}>
              {nameLength} / {NAME_MAX}
            </span>
          </span>
        </div>
      </div>
      <div className="field">
        <label htmlFor={`${id}-description`}>
          Description <span className="optional">(optional)</span>
        </label>
        <textarea
          id={`${id}-description`}
          value={description}
          rows={3}
          aria-invalid={errors.description ? true : undefined}
          aria-describedby={`${id}-description-hint${errors.description ? ` ${id}-description-error` : ''}`}
          onChange={(event) => {
            setDescription(event.target.value);
            setErrors((before) => ({ ...before, description: undefined }));
          }}
        />
        <div className="field-foot">
          {errors.description && (
            <p className="field-error" id={`${id}-description-error`}>
              {errors.description}
            </p>
          )}
          <span className="field-hint" id={`${id}-description-hint`}>
            <span className={descriptionLength > DESCRIPTION_MAX ? 'over' : ''}>
              {descriptionLength} / {DESCRIPTION_MAX}
            </span>
          </span>
        </div>
      </div>
      <div className="form-actions">
        <button type="button" className="button button-quiet" onClick={onCancel}>
          Cancel
        </button>
        <button type="submit" className="button button-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create group'}
        </button>
      </div>
    </form>
  );
}
