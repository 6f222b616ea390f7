import protobuf from 'protobufjs';

type Value = string | number | boolean | { enum: string } | Fields;
interface Fields {
  [name: string]: Value | Value[];
}

/** A small parser for protobuf text format (what Triton reads from config.pbtxt). */
export function parseTextFormat(text: string): Fields {
  const tokens = text.replace(/#.*$/gm, '').match(/"(?:[^"\\]|\\.)*"|[{}[\]:,]|[^\s{}[\]:,"]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const next = () => tokens[i++];
  const scalar = (token: string): Value => {
    if (token.startsWith('"')) return JSON.parse(token) as string;
    if (token === 'true' || token === 'false') return token === 'true';
    if (/^-?\d+(\.\d+)?$/.test(token)) return Number(token);
    return { enum: token };
  };
  const message = (end?: string): Fields => {
    const fields: Fields = {};
    const add = (name: string, value: Value | Value[]) => {
      const existing = fields[name];
      if (existing === undefined) fields[name] = value;
      else
        fields[name] = [
          ...(Array.isArray(existing) ? existing : [existing]),
          ...(Array.isArray(value) ? value : [value]),
        ];
    };
    while (i < tokens.length && peek() !== end) {
      const name = next()!;
      if (peek() === ':') next();
      if (peek() === '{') {
        next();
        add(name, message('}'));
        next();
      } else if (peek() === '[') {
        next();
        const list: Value[] = [];
        while (peek() !== ']') {
          if (peek() === '{') {
            next();
            list.push(message('}'));
            next();
          } else list.push(scalar(next()!));
          if (peek() === ',') next();
        }
        next();
        add(name, list);
      } else add(name, scalar(next()!));
    }
    return fields;
  };
  return message();
}

/** Checks parsed text format against a message type: every field known, scalars of the right type, enums valid. */
export function validateAgainst(type: protobuf.Type, fields: Fields, path = type.name): string[] {
  const problems: string[] = [];
  for (const [name, raw] of Object.entries(fields)) {
    const field = type.fields[name];
    if (!field) {
      problems.push(`${path}.${name}: no such field in ${type.name}`);
      continue;
    }
    field.resolve();
    const values = Array.isArray(raw) ? raw : [raw];
    if (Array.isArray(raw) && !field.repeated) problems.push(`${path}.${name}: not a repeated field`);
    for (const value of values) {
      if (field.resolvedType instanceof protobuf.Type) {
        if (typeof value !== 'object' || 'enum' in value)
          problems.push(`${path}.${name}: expected a ${field.resolvedType.name} message`);
        else problems.push(...validateAgainst(field.resolvedType, value, `${path}.${name}`));
      } else if (field.resolvedType instanceof protobuf.Enum) {
        if (typeof value !== 'object' || typeof value.enum !== 'string' || !(value.enum in field.resolvedType.values))
          problems.push(`${path}.${name}: ${JSON.stringify(value)} is not a ${field.resolvedType.name}`);
      } else if (field.type === 'string') {
        if (typeof value !== 'string') problems.push(`${path}.${name}: expected a string`);
      } else if (field.type === 'bool') {
        if (typeof value !== 'boolean') problems.push(`${path}.${name}: expected a bool`);
      } else if (typeof value !== 'number' || !Number.isInteger(value))
        problems.push(`${path}.${name}: expected an integer`);
    }
  }
  return problems;
}
