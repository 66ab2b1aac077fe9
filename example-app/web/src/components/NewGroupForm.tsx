import { type FormEvent, useId, useState } from 'react';
import { describeError, type Group } from '../api';
import { SignInRedirect } from '../auth';
import { useServices } from '../services';
import { checkNewGroup, DESCRIPTION_MAX, length, NAME_MAX } from '../rules';
import { Alert } from './Feedback';

type Errors = { name?: string; description?: string };

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

  const nameLength = length(name.trim());
  const descriptionLength = length(description.trim());
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
