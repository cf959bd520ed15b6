#!/usr/bin/env node
// Validates the element templates of both diagrams against their JSON schemas:
//   bpmn/element-templates/*.json           (Operaton / Camunda 7) -> @camunda/element-templates-json-schema
//   bpmn/camunda8/element-templates/*.json  (optional Camunda 8 adapter) -> @camunda/zeebe-element-templates-json-schema
// Usage: node bpmn/validate-element-templates.cjs [file.json ...]
// Default: every template of both sets. A file given on the command line is checked against the
// schema of the set whose directory holds it. Exit code 1 on any invalid template.
'use strict';

const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

function compile(schema) {
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats(ajv);
  return ajv.compile(schema);
}

const SETS = [
  {
    name: 'camunda7',
    dir: path.join(__dirname, 'element-templates'),
    schemaUrl: 'https://unpkg.com/@camunda/element-templates-json-schema/resources/schema.json',
    validate: compile(require('@camunda/element-templates-json-schema/resources/schema.json'))
  },
  {
    name: 'camunda8',
    dir: path.join(__dirname, 'camunda8', 'element-templates'),
    schemaUrl: 'https://unpkg.com/@camunda/zeebe-element-templates-json-schema/resources/schema.json',
    validate: compile(require('@camunda/zeebe-element-templates-json-schema/resources/schema.json'))
  }
];

function setOf(file) {
  const dir = path.dirname(path.resolve(file));
  const set = SETS.find(s => dir === s.dir);
  if (!set) {
    throw new Error(`${file}: not in a known template directory (${SETS.map(s => s.dir).join(', ')})`);
  }
  return set;
}

const args = process.argv.slice(2);
const files = args.length
  ? args
  : SETS.flatMap(s => fs.readdirSync(s.dir)
    .filter(f => f.endsWith('.json'))
    .sort()
    .map(f => path.join(s.dir, f)));

let failed = 0;
let checked = 0;
for (const file of files) {
  const set = setOf(file);
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const templates = Array.isArray(doc) ? doc : [ doc ];
  const ids = new Set();
  templates.forEach((template, index) => {
    checked++;
    const label = `${set.name}/${path.basename(file)}[${index}] ${template.id || '<no id>'}`;
    if (ids.has(template.id)) {
      console.error(`${label}: duplicate template id`);
      failed++;
    }
    ids.add(template.id);
    if (template.$schema !== set.schemaUrl) {
      console.error(`${label}: $schema must be ${set.schemaUrl}`);
      failed++;
    }
    if (!set.validate(template)) {
      failed++;
      console.error(`${label}: invalid`);
      for (const err of set.validate.errors) {
        console.error(`  ${err.instancePath || '/'} ${err.message} ${JSON.stringify(err.params)}`);
      }
    }
  });
}

if (failed) {
  console.error(`${failed} problem(s) in ${checked} element template(s)`);
  process.exit(1);
}
console.log(`${checked} element template(s) valid`);
