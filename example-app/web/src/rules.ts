/**
 * The API's limits on what a user types, read from the very JSON Schema files the API validates
 * with (example-app/schemas/), so the form and the server cannot disagree.
 */
import newGroup from '../../schemas/new-group.json' with { type: 'json' };
import newImage from '../../schemas/new-image.json' with { type: 'json' };

/** The longest group name. */
export const NAME_MAX: number = newGroup.properties.name.maxLength;
/** The longest group description. */
export const DESCRIPTION_MAX: number = newGroup.properties.description.maxLength;
/** The longest image title. */
export const TITLE_MAX: number = newImage.properties.title.maxLength;

/** Length as JSON Schema counts it: in code points, so an emoji is one. */
export function length(text: string): number {
  return [...text].length;
}

/** What is wrong with a new group (as it will be sent: trimmed), field by field. */
export function checkNewGroup(name: string, description: string): { name?: string; description?: string } {
  const errors: { name?: string; description?: string } = {};
  const sentName = name.trim();
  const sentDescription = description.trim();
  if (sentName.length === 0) errors.name = 'Give the group a name.';
  else if (length(sentName) > NAME_MAX) {
    errors.name = `The name can be at most ${NAME_MAX} characters (it has ${length(sentName)}).`;
  }
  if (length(sentDescription) > DESCRIPTION_MAX) {
    errors.description = `The description can be at most ${DESCRIPTION_MAX} characters (it has ${length(sentDescription)}).`;
  }
  return errors;
}

/** What is wrong with an image title (as it will be sent: trimmed), or undefined. */
export function checkTitle(title: string): string | undefined {
  const sent = title.trim();
  if (sent.length === 0) return 'Give the image a title.';
  if (length(sent) > TITLE_MAX) return `The title can be at most ${TITLE_MAX} characters (it has ${length(sent)}).`;
  return undefined;
}
