#!/usr/bin/env node
// Validates element templates against @camunda/zeebe-element-templates-json-schema.
// Usage: node bpmn/validate-element-templates.cjs [file.json ...]
// Default: bpmn/element-templates/*.json. Exit code 1 on any invalid template.
'use strict';

const fs = require('fs');
const path = require('path');
const Ajv = require('ajv');
const addFormats = require('ajv-formats');

const schema = require('@camunda/zeebe-element-templates-json-schema/resources/schema.json');

const ajv = new Ajv({ allErrors: true, strict: false });
addFormats(ajv);
const validate = ajv.compile(schema);

const dir = path.join(__dirname, 'element-templates');
const files = process.argv.slice(2).length
  ? process.argv.slice(2)
  : fs.readdirSync(dir).filter(f => f.endsWith('.json')).map(f => path.join(dir, f));

let failed = 0;
let checked = 0;
for (const file of files) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const templates = Array.isArray(doc) ? doc : [ doc ];
  const ids = new Set();
  templates.forEach((template, index) => {
    checked++;
    const label = `${path.basename(file)}[${index}] ${template.id || '<no id>'}`;
    if (ids.has(template.id)) {
      console.error(`${label}: duplicate template id`);
      failed++;
    }
    ids.add(template.id);
    if (!validate(template)) {
      failed++;
      console.error(`${label}: invalid`);
      for (const err of validate.errors) {
        console.error(`  ${err.instancePath || '/'} ${err.message} ${JSON.stringify(err.params)}`);
      }
    }
  });
}

if (failed) {
  console.error(`${failed} of ${checked} element template(s) invalid`);
  process.exit(1);
}
console.log(`${checked} element template(s) valid`);
