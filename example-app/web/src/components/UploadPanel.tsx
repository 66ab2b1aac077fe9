import { type DragEvent, type FormEvent, useEffect, useId, useRef, useState } from 'react';
import { describeError, type Image, uploadBytes } from '../api';
import { SignInRedirect } from '../auth';
import { checkImageFile, formatBytes, MAX_UPLOAD_BYTES } from '../sniff';
import { useServices } from '../services';
import { checkTitle } from '../rules';
import { Alert } from './Feedback';

type Errors = { title?: string; file?: string };

/**
 * Adds an image to a group: title, file (picker or drag and drop), then the record and the form POST of
 * the bytes with a progress bar. Every check that can be made here is made before the record is
 * created, so a refused file leaves nothing behind.
 */
export function UploadPanel({
  groupId,
  onCreated,
  onFailed,
}: {
  groupId: string;
  /** The record exists (pending): the grid shows it at once. */
  onCreated: (image: Image) => void;
  /** Its bytes could not be sent: the grid says so instead of spinning. */
  onFailed: (imageId: string) => void;
}) {
  const { api } = useServices();
  const id = useId();
  const input = useRef<HTMLInputElement>(null);
  const [title, setTitle] = useState('');
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [errors, setErrors] = useState<Errors>({});
  const [refusal, setRefusal] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);
  const [progress, setProgress] = useState<number | null>(null);
  const [dragging, setDragging] = useState(false);

  useEffect(() => {
    if (!file) return setPreview(null);
    const url = URL.createObjectURL(file);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);

  const choose = async (chosen: File | null) => {
    setDone(null);
    setRefusal(null);
    setFile(chosen);
    if (!chosen) return;
    // Say at once what is wrong with the file; submit checks it again.
    const checked = await checkImageFile(chosen);
    setErrors((before) => ({ ...before, file: 'error' in checked ? checked.error : undefined }));
  };

  const drop = (event: DragEvent) => {
    event.preventDefault();
    setDragging(false);
    const dropped = event.dataTransfer.files[0];
    if (dropped) void choose(dropped);
  };

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setRefusal(null);
    setDone(null);
    const found: Errors = {};
    const trimmed = title.trim();
    found.title = checkTitle(title);
    let type = null;
    if (!file) found.file = 'Choose an image to upload.';
    else {
      const checked = await checkImageFile(file);
      if ('error' in checked) found.file = checked.error;
      else type = checked.type;
    }
    setErrors(found);
    if (found.title || found.file || !file || !type) {
      document.getElementById(found.title ? `${id}-title` : `${id}-file`)?.focus();
      return;
    }
    setProgress(0);
    try {
      const created = await api.createImage(groupId, trimmed, type);
      onCreated(created.newItem);
      await uploadBytes(created.upload, file, setProgress).catch((error: unknown) => {
        onFailed(created.newItem.imageId);
        throw error;
      });
      setDone(`“${trimmed}” is uploaded; its thumbnail appears in a moment.`);
      setTitle('');
      setFile(null);
      if (input.current) input.current.value = '';
    } catch (error) {
      if (!(error instanceof SignInRedirect)) setRefusal(describeError(error));
    } finally {
      setProgress(null);
    }
  };

  const busy = progress !== null;
  return (
    <form className="card form upload" onSubmit={submit} noValidate aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`}>Add an image</h2>
      {refusal && <Alert>{refusal}</Alert>}
      {done && <Alert kind="success">{done}</Alert>}
      <div className="upload-fields">
        <div className="field">
          <label htmlFor={`${id}-title`}>Title</label>
          <input
            id={`${id}-title`}
            value={title}
            autoComplete="off"
            disabled={busy}
            aria-invalid={errors.title ? true : undefined}
            aria-describedby={errors.title ? `${id}-title-error` : undefined}
            onChange={(event) => {
              setTitle(event.target.value);
              setErrors((before) => ({ ...before, title: undefined }));
            }}
          />
          {errors.title && (
            <p className="field-error" id={`${id}-title-error`}>
              {errors.title}
            </p>
          )}
        </div>
        <div className="field">
          <span className="label" id={`${id}-file-label`}>
            Image
          </span>
          <div
            className={`dropzone${dragging ? ' dragging' : ''}${errors.file ? ' invalid' : ''}`}
            onDragOver={(event) => {
              event.preventDefault();
              setDragging(true);
            }}
            onDragLeave={() => setDragging(false)}
            onDrop={drop}
          >
            {preview && !errors.file ? (
              <img className="dropzone-preview" src={preview} alt="" />
            ) : (
              <svg className="dropzone-icon" viewBox="0 0 24 24" aria-hidden="true">
                <path d="M12 16V4m0 0l-4 4m4-4l4 4M4 16v3a1 1 0 001 1h14a1 1 0 001-1v-3" />
              </svg>
            )}
            <div className="dropzone-text">
              {file ? (
                <span className="file-name">
                  {file.name} <span className="muted">({formatBytes(file.size)})</span>
                </span>
              ) : (
                <span>Drop an image here, or</span>
              )}
              <input
                ref={input}
                id={`${id}-file`}
                className="file-input"
                type="file"
                accept="image/png,image/jpeg,image/gif,image/webp"
                disabled={busy}
                aria-labelledby={`${id}-file-label`}
                aria-invalid={errors.file ? true : undefined}
                aria-describedby={`${id}-file-hint${errors.file ? ` ${id}-file-error` : ''}`}
                onChange={(event) => void choose(event.target.files?.[0] ?? null)}
              />
              <label htmlFor={`${id}-file`} className="button button-small">
                {file ? 'Choose another' : 'Choose a file'}
              </label>
              <span className="field-hint" id={`${id}-file-hint`}>
                PNG, JPEG, GIF or WebP, up to {formatBytes(MAX_UPLOAD_BYTES)}.
              </span>
            </div>
          </div>
          {errors.file && (
            <p className="field-error" id={`${id}-file-error`}>
              {errors.file}
            </p>
          )}
        </div>
        <div className="upload-submit">
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? 'Uploading…' : 'Upload'}
          </button>
          {busy && (
            <progress className="progress" max={1} value={progress} aria-label="Upload progress">
              {Math.round(progress * 100)}%
            </progress>
          )}
        </div>
      </div>
    </form>
  );
}
