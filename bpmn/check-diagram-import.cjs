#!/usr/bin/env node
// Imports both diagrams the way Camunda Modeler does (bpmn-moddle with the platform's extension)
// and fails on any import warning: an unknown attribute or element (a typo such as camunda:topik)
// is silently dropped by the Modeler and ignored by the engine.
// Usage: node bpmn/check-diagram-import.cjs
'use strict';

const fs = require('fs');
const path = require('path');

const DIAGRAMS = [
  {
    file: path.join(__dirname, 'code_review.bpmn'),
    extensions: { camunda: require('camunda-bpmn-moddle/resources/camunda.json') }
  },
  {
    file: path.join(__dirname, 'camunda8', 'code_review.bpmn'),
    extensions: { zeebe: require('zeebe-bpmn-moddle/resources/zeebe.json') }
  }
];

(async () => {
  const { BpmnModdle } = await import('bpmn-moddle');
  let failed = 0;
  for (const { file, extensions } of DIAGRAMS) {
    const moddle = new BpmnModdle(extensions);
    const label = path.relative(process.cwd(), file);
    try {
      const { warnings } = await moddle.fromXML(fs.readFileSync(file, 'utf8'));
      for (const warning of warnings) {
        console.error(`${label}: ${warning.message}`);
        failed++;
      }
      if (!warnings.length) {
        console.log(`${label}: imports without warnings`);
      }
    } catch (err) {
      console.error(`${label}: ${err.message}`);
      failed++;
    }
  }
  process.exit(failed ? 1 : 0);
})();
