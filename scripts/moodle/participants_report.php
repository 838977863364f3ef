<?php
// Makes the custom report `moodle.participants_report` reads: source "Course
// participants", five columns (course short name, username, role short name,
// group name, enrolment status) and no condition. Prints the report's id.
//
//     MOODLE_DIR=/path/to/moodle php scripts/moodle/participants_report.php
//
// (as the web server's user; the report belongs to the site's administrator)
define('CLI_SCRIPT', true);
require(getenv('MOODLE_DIR') . '/config.php');

use core_reportbuilder\local\helpers\report;

\core\session\manager::set_user(get_admin());
$r = report::create_report((object) [
    'name' => 'enrolgen: course participants',
    'source' => \core_course\reportbuilder\datasource\participants::class,
], false);
foreach (['course:shortname', 'user:username', 'role:shortname', 'group:name', 'enrolment:status'] as $column) {
    report::add_report_column($r->get('id'), $column);
}
echo $r->get('id'), "\n";
