// Text for HTML and SVG (XML) pages: the five markup characters escaped (& < > " '), so that
// a file name, a run's name or a unit of text never becomes markup. Every page charnn writes
// (the inspect report, the loss curves, the runs page) goes through it.
#pragma once

#include <string>
#include <string_view>

namespace charnn {

std::string html_escape(std::string_view s);

}  // namespace charnn
