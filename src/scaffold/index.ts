export { scaffold, type ScaffoldOptions, type ScaffoldResult } from './scaffold.js';
export { TEMPLATES, TEMPLATE_NAMES, type TemplateName, type TemplateInfo } from './templates.js';
